"""Batch compression: many inputs (images, clips, meshes, mixed) into one folder with reports,
resumable, on a local process pool or Dask distributed (`nfc batch`), and the comparison with
classic codecs, plots and an HTML page (`nfc report`).

    from nfcodec.batch import BatchConfig, run_batch
    result = run_batch(["photos/"], "out", EncodeConfig(), BatchConfig(workers=2))

Modules: `inputs` (what the arguments name), `jobs` (one input's encode, shippable to any
engine), `local_pool` and `dask_engine` (the engines), `journal` (the lock, the record of
finished inputs, cleanup after a kill), `runner` (the coordinator), `report` (report.json,
report.csv, summary.md), `status` (progress on stderr), `compare`, `plots`, `html` (nfc report).
"""
from __future__ import annotations

from .runner import BatchConfig, BatchResult, run_batch

__all__ = ["BatchConfig", "BatchResult", "run_batch"]
