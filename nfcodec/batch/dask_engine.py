"""The distributed engine: the same jobs on Dask distributed, either a cluster this process
starts on loopback (`--scheduler local-dask`) or an existing one (`--scheduler
tcp://HOST:PORT`), so a cluster of GPU machines compresses a data set with no code change.

Each Dask worker task slot runs one job at a time. A job sets its own thread count: the
coordinator's threads per worker on a local cluster (the same as the process pool, so the
files are byte-identical), else the node's CPUs over its task slots (Dask's nanny starts
workers with one OpenMP thread, which would leave most cores idle). Workers read inputs by
path (a shared filesystem) and return the file's bytes; the coordinator writes them.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterator

from ..errors import NfcError, UsageError
from .jobs import Job, JobOutcome, base_row, failed_row, run_job

POLL = 0.5  # seconds between looks at the futures and at what each worker runs
CONNECT_TIMEOUT = "15s"
WORKER_TIMEOUT = 60.0  # seconds to wait for a cluster's first worker


class DaskEngine:
    def __init__(self, scheduler: str, workers: int, threads: int | None):
        try:
            import distributed
        except ImportError:
            raise UsageError("--scheduler needs Dask distributed: pip install 'nfcodec[dask]'") from None
        self.scheduler, self.threads, self._cluster = scheduler, threads, None
        if scheduler == "local-dask":
            import dask

            # one attempt per job: an input that exhausts a worker's memory must not kill the next
            # worker too (the scheduler retries a task whose worker died, 3 times by default)
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            self.client = distributed.Client(self._cluster, set_as_default=False)
        else:
            try:
                self.client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            self.client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
        except (TimeoutError, OSError):
            self.close()
            raise UsageError(f"the Dask scheduler at {scheduler} has no workers (start some with: dask worker {scheduler})") from None
        self.workers = len(self.client.scheduler_info().get("workers", {})) or workers

    @property
    def name(self) -> str:
        return "dask"

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "scheduler": self.scheduler, "workers": self.workers,
                "threads_per_worker": self.threads if self.threads else "the node's CPUs / its task slots"}

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def run(self, jobs: list[Job], status: Any) -> Iterator[tuple[Job, JobOutcome]]:
        """Every job's outcome, in the order they finish; a job whose worker died (Dask's
        KilledWorker) or failed in transit is that job's failed row. At most two jobs per task
        slot are submitted ahead, and each result is released once written, so neither the
        cluster nor this process holds a whole data set's files."""
        pending = list(reversed(jobs))
        running: dict[Any, Job] = {}
        shown: dict[str, str] = {}
        window = 2 * max(1, self._slots())
        try:
            while pending or running:
                while pending and len(running) < window:
                    job = pending.pop()
                    running[self.client.submit(run_job, job, pure=False, retries=0)] = job
                finished = [f for f in running if f.done()]
                for future in finished:
                    job = running.pop(future)
                    if future.status == "cancelled":  # what Dask does to every future when the scheduler goes
                        raise NfcError(f"lost the Dask scheduler at {self.scheduler} while {job.relative} ran; rerun the batch to resume")
                    yield job, _outcome(future, job)
                    future.release()
                if not finished:
                    self._show(status, running, shown)
                    status.tick()
                    time.sleep(POLL)
        finally:
            for future in running:
                future.cancel()

    def _slots(self) -> int:
        workers = self.client.scheduler_info().get("workers", {})
        return sum(int(w.get("nthreads", 1)) for w in workers.values())

    def _show(self, status: Any, running: dict[Any, Job], shown: dict[str, str]) -> None:
        """Which input each worker runs now (Dask's view of its task slots)."""
        by_key = {f.key: job for f, job in running.items()}
        try:
            processing = self.client.processing()
        except Exception:  # a status display must never stop the batch
            return
        for address, keys in processing.items():
            jobs = [by_key[k] for k in keys if k in by_key]
            if jobs and shown.get(address) != jobs[0].relative:
                shown[address] = jobs[0].relative
                status.job_started(address.replace("tcp://", ""), jobs[0])


def _outcome(future: Any, job: Job) -> JobOutcome:
    try:
        return future.result()
    except Exception as exc:
        row = base_row(job)
        del row["input"]
        return JobOutcome(failed_row(job.relative, f"the Dask worker failed: {type(exc).__name__}: {exc}", **row))
