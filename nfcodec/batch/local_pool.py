"""The embedded engine: a pool of worker processes on this machine, one job at a time each.

Why not concurrent.futures: its pool breaks as a whole when one worker dies (the kernel's
out-of-memory killer, a crash in native code), failing every job in flight; here a dead worker
fails only its own job and is replaced. Each worker also tells its job's progress, which the
status display shows per worker.

Workers start with the thread pools sized before torch or numba load (workers x threads =
the cores, so nothing oversubscribes), ignore Ctrl-C (the coordinator decides what an
interrupt stops, and stops them), and exit on their own when the coordinator dies, even by
kill -9: they watch their parent and leave at once.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Iterator

from .jobs import Job, JobOutcome, base_row, failed_row

STATUS_INTERVAL = 0.5  # seconds between a worker's progress messages
PARENT_CHECK = 0.5  # seconds between a worker's checks that its coordinator is alive


@dataclass
class _Slot:
    process: Any
    conn: Connection
    job: Job | None = None


class LocalPool:
    name = "local"

    def __init__(self, workers: int, threads: int, gpus: int = 0):
        self.workers, self.threads, self.gpus = workers, threads, gpus

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "workers": self.workers, "threads_per_worker": self.threads,
                **({"gpus": self.gpus} if self.gpus else {})}

    def close(self) -> None:
        pass

    def run(self, jobs: list[Job], status: Any) -> Iterator[tuple[Job, JobOutcome]]:
        """Every job's outcome, in the order they finish."""
        context = multiprocessing.get_context("spawn")  # a clean interpreter: no forked thread pools
        pending: deque[Job] = deque(jobs)
        slots: dict[int, _Slot] = {}
        try:
            while pending or any(s.job for s in slots.values()):
                for wid in range(min(self.workers, len(jobs))):
                    if pending and (wid not in slots or slots[wid].job is None):
                        self._assign(context, slots, wid, pending, status)
                yield from self._collect(slots, status)
        finally:
            _stop(slots.values())

    def _assign(self, context: Any, slots: dict[int, _Slot], wid: int, pending: deque[Job], status: Any) -> None:
        """Give worker `wid` (started if needed) the next job; a worker that died while idle
        is replaced and the job goes to its successor."""
        if wid not in slots:
            slots[wid] = self._start(context, wid)
        job = pending.popleft()
        try:
            slots[wid].conn.send(job)
        except (OSError, ValueError):
            pending.appendleft(job)
            _stop([slots.pop(wid)])
            return
        slots[wid].job = job
        status.job_started(f"w{wid + 1}", job)

    def _start(self, context: Any, wid: int) -> _Slot:
        ours, theirs = context.Pipe()
        process = context.Process(target=worker_main, args=(theirs, self.threads, os.getpid()), daemon=True, name="nfc-batch-worker")
        # the child inherits both: Ctrl-C ignored from its first instruction (no traceback from a
        # half-started interpreter), and thread pools sized before anything it imports loads them
        environment = {name: str(self.threads) for name in THREAD_VARIABLES}
        if self.gpus:
            environment["CUDA_VISIBLE_DEVICES"] = str(wid % self.gpus)
        with _inherited(environment):
            process.start()
        theirs.close()
        return _Slot(process, ours)

    def _collect(self, slots: dict[int, _Slot], status: Any) -> Iterator[tuple[Job, JobOutcome]]:
        busy = {wid: s for wid, s in slots.items() if s.job is not None}
        ready = set(wait([s.conn for s in busy.values()] + [s.process.sentinel for s in busy.values()], timeout=1.0))
        for wid, slot in busy.items():
            name, job = f"w{wid + 1}", slot.job
            outcome = None
            if slot.conn in ready:
                try:
                    while slot.conn.poll() and outcome is None:
                        kind, payload = slot.conn.recv()
                        if kind == "status":
                            status.worker_note(name, payload)
                        else:
                            outcome = payload
                except (EOFError, OSError):
                    pass  # the worker died; its sentinel says how
            if outcome is None and not slot.process.is_alive():
                outcome = _died(job, slot.process.exitcode)
                slot.conn.close()
                del slots[wid]  # replaced by a fresh worker if jobs remain
            if outcome is not None:
                if wid in slots:
                    slot.job = None
                yield job, outcome
        status.tick()


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", "NFC_THREADS")


@contextlib.contextmanager
def _inherited(environment: dict[str, str]) -> Iterator[None]:
    """Environment variables set, and SIGINT ignored, for a child started inside."""
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _died(job: Job, exitcode: int | None) -> JobOutcome:
    how = f"killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit status {exitcode}"
    hint = " (out of memory?)" if exitcode == -signal.SIGKILL else ""
    row = base_row(job)
    del row["input"]
    return JobOutcome(failed_row(job.relative, f"the worker process died: {how}{hint}", **row))


def _stop(slots: Any) -> None:
    slots = list(slots)
    for slot in slots:
        try:
            slot.conn.send(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + 2.0
    for slot in slots:
        if slot.job is not None:  # interrupted mid-job: its result would be thrown away
            slot.process.terminate()
        slot.process.join(max(0.0, deadline - time.monotonic()))
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join(1.0)
        slot.conn.close()


class _RelayProgress:
    """The codec's Progress interface, sent to the coordinator a few times a second."""

    def __init__(self, conn: Connection):
        self.conn, self.enabled = conn, True
        self._task, self._total, self._last = "", 1, 0.0

    def start(self, task: str, total: int) -> None:
        self._task, self._total = task, max(total, 1)
        self._send(f"{task} 0/{self._total}", force=True)

    def update(self, done: int, postfix: str = "") -> None:
        self._send(f"{self._task} {done}/{self._total} {postfix}".rstrip())

    def finish(self, postfix: str = "") -> None:
        self._send(f"{self._task} done {postfix}".rstrip(), force=True)

    def message(self, text: str) -> None:
        self._send(text, force=True)

    def _send(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= STATUS_INTERVAL:
            self._last = now
            _send_or_leave(self.conn, ("status", text))


def worker_main(conn: Connection, threads: int, parent_pid: int) -> None:
    """A pool worker: configure the thread pools, then run jobs until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from ..threads import configure_threads

    configure_threads(threads)  # before run_job imports torch and numba
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    from .jobs import run_job

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        outcome = run_job(job, _RelayProgress(conn))
        _send_or_leave(conn, ("done", outcome))


def _send_or_leave(conn: Connection, message: Any) -> None:
    """Send to the coordinator; if it is gone (killed), leave quietly: nobody wants the result."""
    try:
        conn.send(message)
    except (OSError, ValueError):
        os._exit(1)


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(PARENT_CHECK)
        if os.getppid() != parent_pid:  # re-parented: the coordinator is gone
            os._exit(1)
