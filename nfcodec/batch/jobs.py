"""One input's encode as a self-contained job: plain data in (so a process pool or a Dask
cluster can ship it), the report row and the file's bytes out. A job never raises for a bad
input: the failure is its row, so one bad file does not stop the others.

Jobs do not write files: the batch's coordinator writes every output, atomically, and keeps
the journal, so a killed worker (or a cluster node without OUTDIR) cannot leave a partial
file behind. Inputs are read by path: a Dask cluster needs them on a filesystem its workers
share.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__

ROW_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Job:
    index: int
    input: str  # the absolute path workers read
    relative: str  # the input as the report names it (relative to its INPUT argument)
    output: str  # the .nff's path relative to OUTDIR
    modality: str
    config: dict[str, Any]  # EncodeConfig fields, the input options narrowed to what the modality reads
    input_sha256: str
    input_bytes: int
    options_key: str  # computed by the coordinator (its nfcodec version), see options_key()
    threads: int | None = None  # None: the worker's share of its machine (a Dask node)


@dataclass
class JobOutcome:
    row: dict[str, Any]
    data: bytes | None = field(default=None, repr=False)  # the .nff, for an encoded input


def options_key(modality: str, config: dict[str, Any]) -> str:
    """What makes two encodes of the same input the same file: the encoder's version, the
    modality and every option (a file made under other options is not reused)."""
    text = json.dumps({"nfcodec": __version__, "modality": modality, "config": config}, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def base_row(job: Job) -> dict[str, Any]:
    return {"input": job.relative, "output": job.output, "modality": job.modality, "source": job.input,
            "input_sha256": job.input_sha256, "input_bytes": job.input_bytes, "options_key": job.options_key}


def failed_row(relative: str, error: str, seconds: float = 0.0, **known: Any) -> dict[str, Any]:
    """The report row of an input that could not be encoded (`error`: one line)."""
    return {"schema_version": ROW_SCHEMA_VERSION, "input": relative, "status": "failed", "error": error.splitlines()[0] if error else "failed",
            **known, "seconds": round(seconds, 3)}


def run_job(job: Job, progress: Any = None) -> JobOutcome:
    """Encode one input (in a pool worker or a Dask worker): its row and bytes, or a failed row."""
    from ..threads import configure_threads

    threads = job.threads or worker_share()
    configure_threads(threads)  # a Dask worker starts with one OpenMP thread; a job uses its share
    start = time.perf_counter()
    try:
        return _encode(job, threads, progress, start)
    except MemoryError:
        error = "out of memory"
    except Exception as exc:  # one input's failure, whatever it is, is that input's row
        from ..errors import NfcError

        error = str(exc) if isinstance(exc, NfcError) else f"internal error: {type(exc).__name__}: {exc}"
    row = base_row(job)
    del row["input"]
    return JobOutcome(failed_row(job.relative, error, time.perf_counter() - start, **row))


def _encode(job: Job, threads: int, progress: Any, start: float) -> JobOutcome:
    from ..codec import EncodeConfig, encode_signal, read_options
    from ..errors import InputError
    from ..modalities import modality
    from ..progress import SILENT
    from .inputs import file_sha256

    if file_sha256(Path(job.input)) != job.input_sha256:
        raise InputError(f"{job.relative} changed while the batch ran: rerun the batch")
    kind = modality(job.modality)
    config = EncodeConfig(**job.config)
    signal = kind.read(job.input, read_options(kind, config))
    result = encode_signal(kind, signal, config, progress or SILENT)
    geometry = kind.geometry(signal)
    row = {
        "schema_version": ROW_SCHEMA_VERSION, **base_row(job), "status": "ok", "error": None,
        "transform": result.transform_preset, "arch": result.arch, "bytes": len(result.data), "rate": result.rate,
        "rate_unit": result.rate_unit, "headline": kind.headline,
        "stages": [{"width": s.index, "bytes": s.prefix_bytes, "rate": kind.rate(s.prefix_bytes, geometry), "quality": dict(s.metrics)}
                   for s in result.stages],
        "output_sha256": hashlib.sha256(result.data).hexdigest(), "warnings": list(result.warnings),
        "threads": threads, "seconds": round(time.perf_counter() - start, 3),
    }
    return JobOutcome(row, result.data)


def worker_share() -> int:
    """The threads one job may use where it runs: the CPUs available over the task slots of its
    Dask worker (1 slot outside Dask)."""
    from ..threads import available_cpus

    slots = 1
    try:
        from distributed import get_worker

        worker = get_worker()
        slots = max(1, int(getattr(worker.state, "nthreads", None) or getattr(worker, "nthreads", 1)))
    except (ImportError, ValueError, AttributeError):  # not inside a Dask worker
        pass
    return max(1, available_cpus() // slots)


def job_config(config: Any, read_options: frozenset[str]) -> dict[str, Any]:
    """An EncodeConfig as a job's plain dict, keeping only the input options `read_options`
    names (a batch's --frames applies to its clips, not its images)."""
    values = asdict(config)
    values["input_options"] = {k: v for k, v in values["input_options"].items() if k in read_options}
    return values
