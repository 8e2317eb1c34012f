"""The same batch on Dask distributed (a real cluster on loopback, no mock): the same files,
byte for byte, as the local process pool."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from batch_support import FAST, read_report
from cli_support import assert_one_line_error, run

from nfcodec.batch.report import without_timings
from nfcodec.errors import ExitStatus

distributed = pytest.importorskip("distributed")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.nff"))}


def test_local_dask_makes_the_same_files_as_the_process_pool(image_folder: Path, tmp_path: Path):
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert run("batch", str(image_folder), "-o", str(local), *FAST, "--workers", "2").exit_code == 0
    result = run("batch", str(image_folder), "-o", str(dask), *FAST, "--workers", "2", "--scheduler", "local-dask")
    assert result.exit_code == 0, result.output
    assert _files(dask) == _files(local) and len(_files(local)) == 3
    assert without_timings(read_report(dask)) == without_timings(read_report(local))
    assert read_report(dask)["run"]["engine"]["engine"] == "dask"


def test_an_existing_scheduler_runs_the_jobs(image_folder: Path, tmp_path: Path):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        result = run("batch", str(image_folder), "-o", str(tmp_path / "remote"), *FAST, "--threads", "1",
                     "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path / "remote")
    assert report["run"]["engine"]["scheduler"].startswith("tcp://127.0.0.1:")
    assert [r["status"] for r in report["inputs"]] == ["ok"] * 3 and {r["threads"] for r in report["inputs"]} == {1}
    # one thread per job, as the pool's 2 workers x 1 thread: the same bytes
    assert run("batch", str(image_folder), "-o", str(tmp_path / "local"), *FAST, "--workers", "2").exit_code == 0
    assert _files(tmp_path / "remote") == _files(tmp_path / "local")


def test_an_unreachable_scheduler_is_one_clear_error(image_folder: Path, tmp_path: Path, monkeypatch):
    from nfcodec.batch import dask_engine

    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT", "1s")
    result = run("batch", str(image_folder), "-o", str(tmp_path / "out"), *FAST, "--scheduler", "tcp://127.0.0.1:9")
    assert_one_line_error(result, ExitStatus.USAGE_ERROR, "cannot reach the Dask scheduler at tcp://127.0.0.1:9")
