"""A batch killed with SIGKILL, and a worker that dies: nothing partial, nothing lost, and the
rerun's report equals an uninterrupted run's."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
from batch_support import FAST, make_images, read_report
from cli_support import run

from nfcodec import container
from nfcodec.batch.journal import JOURNAL, STATE_DIR
from nfcodec.batch.report import without_timings

NFC = [sys.executable, "-c", "import sys; from nfcodec.cli import main; sys.exit(main())"]


def _journal_lines(out: Path) -> int:
    try:
        return (out / STATE_DIR / JOURNAL).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _gone(pids: list[int]) -> bool:
    return not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def test_sigkill_halfway_then_rerun_completes_without_redoing_and_reports_the_same(tmp_path: Path, sample_pixels: np.ndarray):
    inputs = make_images(tmp_path / "in", sample_pixels, 6)
    reference, out = tmp_path / "reference", tmp_path / "out"
    assert run("batch", str(inputs), "-o", str(reference), *FAST, "--workers", "1").exit_code == 0

    batch = subprocess.Popen([*NFC, "batch", str(inputs), "-o", str(out), *FAST, "--workers", "1"], stderr=subprocess.DEVNULL)
    try:
        _wait_until(lambda: _journal_lines(out) >= 2 or batch.poll() is not None, 120, "two finished inputs")
        workers = [c.pid for c in psutil.Process(batch.pid).children(recursive=True)]
        os.kill(batch.pid, signal.SIGKILL)
        batch.wait()
    finally:
        if batch.poll() is None:
            batch.kill()
    finished = _journal_lines(out)
    assert 2 <= finished < 6 and not (out / "report.json").exists(), "the batch was not killed halfway"
    _wait_until(lambda: _gone(workers), 10, "the orphaned workers to exit")  # they notice their coordinator is gone

    # every .nff on disk is complete; nothing else but temporaries the rerun removes
    for nff in out.rglob("*.nff"):
        if not nff.name.startswith("."):
            assert container.read(nff.read_bytes()).complete

    result = run("batch", str(inputs), "-o", str(out), *FAST, "--workers", "1")
    assert result.exit_code == 0, result.output
    resumed = read_report(out)
    assert resumed["run"]["reused"] >= finished and resumed["run"]["encoded"] + resumed["run"]["reused"] == 6
    assert without_timings(resumed) == without_timings(read_report(reference))
    names = sorted(p.relative_to(out) for p in out.rglob("*.nff"))
    assert names == sorted(p.relative_to(reference) for p in reference.rglob("*.nff")) and len(names) == 6
    assert all((out / n).read_bytes() == (reference / n).read_bytes() for n in names)
    assert not [p for p in out.rglob(".*.part*")]


def _workers(pid: int) -> list[psutil.Process]:
    """The pool's workers (multiprocessing also starts a resource tracker)."""
    found = []
    for child in psutil.Process(pid).children():
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:  # a short-lived helper (a probe) that just ended
            pass
    return found


def test_a_worker_that_dies_fails_only_its_input(tmp_path: Path, sample_pixels: np.ndarray):
    inputs = make_images(tmp_path / "in", sample_pixels, 3)
    out = tmp_path / "out"
    batch = subprocess.Popen([*NFC, "batch", str(inputs), "-o", str(out), *FAST, "--workers", "1"], stderr=subprocess.PIPE, text=True)
    try:
        _wait_until(lambda: _workers(batch.pid), 60, "a worker")
        (worker,) = _workers(batch.pid)
        # past its start (the coordinator sends the first job right after starting it: a worker
        # killed before that is replaced without failing anything), still importing its libraries
        _wait_until(lambda: sum(worker.cpu_times()[:2]) >= 0.5, 60, "a worker at work")
        worker.kill()  # as the out-of-memory killer would
        _, stderr = batch.communicate(timeout=180)
    finally:
        if batch.poll() is None:
            batch.kill()
    assert batch.returncode == 1, stderr
    rows = read_report(out)["inputs"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and "the worker process died: killed by signal 9" in failed[0]["error"]
    assert sum(r["status"] == "ok" for r in rows) == 2  # a fresh worker took the rest
    assert run("batch", str(inputs), "-o", str(out), *FAST, "--workers", "1").exit_code == 0
    assert read_report(out)["run"]["encoded"] == 1
