"""The batch coordinator: find the inputs, skip what an earlier run finished, run the rest
on an engine, write each `.nff` atomically as it arrives, then the reports."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NfcError, UsageError
from ..fsutil import atomic_write
from ..jsonutil import json_safe
from .inputs import BatchInput, discover, file_sha256
from .jobs import Job, base_row, failed_row, job_config
from .journal import BatchLock, Journal, remove_temporaries
from .report import build_report, write_reports
from .status import BatchStatus


@dataclass
class BatchConfig:
    workers: int | None = None  # None: as many as the cores allow (local), the cluster's (Dask)
    threads: int | None = None  # per worker; None: cores / workers (local), the node's share (Dask)
    scheduler: str | None = None  # None: the local process pool; "local-dask"; "tcp://host:port"


@dataclass
class BatchResult:
    report: dict[str, Any]
    outdir: Path
    encoded: int
    reused: int
    files: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.report["summary"]["failed"]


def plan_workers(config: BatchConfig, cpus: int) -> tuple[int, int]:
    """(workers, threads per worker) with workers x threads <= the CPUs this process may use."""
    if config.workers is not None and config.threads is not None:
        return config.workers, config.threads
    if config.workers is not None:
        return config.workers, max(1, cpus // config.workers)
    if config.threads is not None:
        return max(1, cpus // config.threads), config.threads
    return cpus, 1  # one thread per worker: the fastest use of the cores for a batch of small encodes


def prepare_jobs(inputs: list[BatchInput], encode_config: Any, threads: int | None) -> tuple[list[Job], list[dict[str, Any]]]:
    """A job per input that looks encodable, and a failed row for each that does not (an
    unreadable or unsupported file, an option its modality refuses)."""
    from ..codec import validate_config
    from ..modalities import modality_for_input

    jobs, failures = [], []
    for index, item in enumerate(inputs):
        relative, output = str(item.relative), str(item.output_relative)
        try:
            kind = modality_for_input(item.path, {k: v for k, v in encode_config.input_options.items()})
        except UsageError:  # an input option its modality does not read: try without them
            try:
                kind = modality_for_input(item.path, {})
            except NfcError as exc:
                failures.append(failed_row(relative, str(exc), output=output))
                continue
        except NfcError as exc:
            failures.append(failed_row(relative, str(exc), output=output))
            continue
        config = job_config(encode_config, kind.read_options)
        try:
            from ..codec import EncodeConfig

            validate_config(EncodeConfig(**config), kind)
        except NfcError as exc:
            failures.append(failed_row(relative, str(exc), output=output, modality=kind.name))
            continue
        jobs.append(Job(index, str(item.path.absolute()), relative, output, kind.name, config, file_sha256(item.path), item.path.stat().st_size, threads))
    return jobs, failures


def run_batch(arguments: list[str], outdir: str | Path, encode_config: Any, config: BatchConfig | None = None,
              show_progress: bool = True) -> BatchResult:
    """Encode every input into OUTDIR (one `.nff` each, relative paths mirrored) with reports;
    resumable (finished inputs are reused), one bad input never stops the others."""
    from ..codec import resolved_config, validate_config
    from ..threads import available_cpus

    config = config or BatchConfig()
    start = time.perf_counter()
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"the output folder {outdir} is a file")
    encode_config = resolved_config(encode_config)
    validate_config(encode_config)  # a bad option fails before any input is read
    inputs = discover(arguments, outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        lock = BatchLock(outdir)
    except OSError as exc:  # a read-only or missing parent, a full disk
        raise UsageError(f"cannot write to the output folder {outdir}: {exc.strerror or exc}") from None
    try:
        remove_temporaries(outdir)
        workers, threads = plan_workers(config, available_cpus())
        job_threads = threads if config.scheduler in (None, "local-dask") or config.threads else None
        jobs, rows = prepare_jobs(inputs, encode_config, job_threads)
        journal = Journal(outdir)
        todo, reused = _split_finished(jobs, journal)
        status = BatchStatus(len(inputs), reused=len(reused) + len(rows), enabled=show_progress)
        status.failed = len(rows)
        engine = _engine(config, min(workers, max(1, len(todo))), threads) if todo else None
        try:
            rows += reused + (_run(engine, todo, outdir, journal, status) if engine else [])
        finally:
            status.close()
            if engine:
                engine.close()
        run = {"engine": engine.describe() if engine else {"engine": "none: nothing to encode"}, "encoded": len(todo),
               "reused": len(reused), "seconds": round(time.perf_counter() - start, 3)}
        report = build_report(rows, asdict(encode_config), run)
        try:
            files = write_reports(outdir, report)
            journal.rewrite(report["inputs"])
        except OSError as exc:  # the .nff files are in place and journalled: a rerun only writes the reports
            raise NfcError(f"cannot write the report in {outdir}: {exc.strerror or exc}") from None
    finally:
        lock.release()
    return BatchResult(report, outdir, len(todo), len(reused), files)


def _split_finished(jobs: list[Job], journal: Journal) -> tuple[list[Job], list[dict[str, Any]]]:
    """The jobs still to run, and the journal's rows of those an earlier run finished."""
    finished = journal.rows()
    todo, reused = [], []
    for job in jobs:
        row = finished.get(job.relative)
        if journal.reusable(row, job.input_sha256, job.options_key):
            reused.append(row)
        else:
            todo.append(job)
    return todo, reused


def _engine(config: BatchConfig, workers: int, threads: int) -> Any:
    if config.scheduler is None:
        from .local_pool import LocalPool

        return LocalPool(workers, threads)
    if config.scheduler != "local-dask" and not config.scheduler.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise UsageError(f"--scheduler {config.scheduler}: expected local-dask or a scheduler address such as tcp://HOST:8786")
    from .dask_engine import DaskEngine

    return DaskEngine(config.scheduler, workers, threads if config.scheduler == "local-dask" or config.threads else None)


def _run(engine: Any, jobs: list[Job], outdir: Path, journal: Journal, status: BatchStatus) -> list[dict[str, Any]]:
    """Run the jobs; each finished file is written, then journalled, as it arrives."""
    rows = []
    for job, outcome in engine.run(jobs, status):
        row = json_safe(outcome.row)
        if row["status"] == "ok":
            target = outdir / job.output
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(target, outcome.data)
                journal.append(row)
            except OSError as exc:  # a full disk, a read-only folder: this input fails, clearly
                known = base_row(job)
                del known["input"]
                row = failed_row(job.relative, f"cannot write {job.output}: {exc.strerror or exc}", row.get("seconds", 0.0), **known)
        rows.append(row)
        status.job_finished(job, row)
    return rows
