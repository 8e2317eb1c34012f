"""The batch coordinator: find the inputs, skip what an earlier run finished, run the rest
on an engine, write each `.nff` atomically as it arrives, then the reports."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import NfcError, UsageError
from ..fsutil import atomic_write
from ..jsonutil import json_safe
from .inputs import BatchInput, discover, file_sha256
from .jobs import Job, base_row, failed_row, job_config, options_key
from .journal import BatchLock, Journal, remove_temporaries
from .report import REPORT_CSV, REPORT_JSON, SUMMARY_MD, build_report, write_reports
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


def plan_workers(config: BatchConfig, cpus: int, inputs: int) -> tuple[int, int]:
    """(workers, threads per worker) with workers x threads <= the CPUs this process may use.
    Sized from every input of the batch (not only those left to do), so a resumed run uses
    the thread count an uninterrupted one does, and fewer inputs than cores get more threads."""
    if config.workers is not None and config.threads is not None:
        return config.workers, config.threads
    if config.workers is not None:
        return config.workers, max(1, cpus // config.workers)
    if config.threads is not None:
        return max(1, cpus // config.threads), config.threads
    workers = max(1, min(cpus, inputs))
    return workers, max(1, cpus // workers)


def prepare_jobs(inputs: list[BatchInput], encode_config: Any) -> tuple[list[Job], list[dict[str, Any]]]:
    """A job per input that looks encodable, and a failed row for each that does not (an
    unreadable or unsupported file, an option its modality refuses)."""
    jobs, failures = [], []
    for index, item in enumerate(inputs):
        try:
            made = _job(index, item, encode_config)
        except NfcError as exc:
            made = failed_row(str(item.relative), str(exc), output=str(item.output_relative))
        except OSError as exc:  # unreadable (permissions), vanished since it was listed
            made = failed_row(str(item.relative), f"cannot read {item.path}: {exc.strerror or exc}", output=str(item.output_relative))
        (jobs if isinstance(made, Job) else failures).append(made)
    return jobs, failures


def _job(index: int, item: BatchInput, encode_config: Any) -> Job | dict[str, Any]:
    """The input's job, or its failed row when its modality refuses an option (--psnr for a mesh)."""
    from ..codec import EncodeConfig, validate_config
    from ..modalities import modality_for_input

    try:
        kind = modality_for_input(item.path, dict(encode_config.input_options))
    except UsageError:  # an input option its modality does not read (--frames for an image)
        kind = modality_for_input(item.path, {})
    config = job_config(encode_config, kind.read_options)
    try:
        validate_config(EncodeConfig(**config), kind)
    except NfcError as exc:
        return failed_row(str(item.relative), str(exc), output=str(item.output_relative), modality=kind.name)
    return Job(index, str(item.path.absolute()), str(item.relative), str(item.output_relative), kind.name, config,
               file_sha256(item.path), item.path.stat().st_size, options_key(kind.name, config))


def run_batch(arguments: list[str], outdir: str | Path, encode_config: Any, config: BatchConfig | None = None,
              show_progress: bool = True) -> BatchResult:
    """Encode every input into OUTDIR (one `.nff` each, relative paths mirrored) with reports;
    resumable (finished inputs are reused), one bad input never stops the others."""
    from ..codec import resolved_config, validate_config

    config = config or BatchConfig()
    start = time.perf_counter()
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"the output folder {outdir} is a file")
    _check_scheduler(config.scheduler)
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
        journal = Journal(outdir)
        journal.repair()
        jobs, rows = prepare_jobs(inputs, encode_config)
        jobs, workers, threads, gpus = _assign(jobs, config, encode_config)
        todo, reused = _split_finished(jobs, journal)
        rows += reused
        if todo:  # the old report no longer describes the folder once files change: no stale report
            for name in (REPORT_JSON, REPORT_CSV, SUMMARY_MD):
                (outdir / name).unlink(missing_ok=True)
        status = BatchStatus(len(inputs), reused=len(rows), enabled=show_progress)
        status.failed = len(rows) - len(reused)
        engine = _engine(config, min(workers, len(todo)), threads, gpus, todo) if todo else None
        try:
            rows += _run(engine, todo, outdir, journal, status) if engine else []
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


def _assign(jobs: list[Job], config: BatchConfig, encode_config: Any) -> tuple[list[Job], int, int, int]:
    """Each job's thread count (the same for every job of the batch, whatever is left to do),
    and the workers, threads per worker and local GPUs the engine runs with."""
    from ..threads import available_cpus

    gpus = _local_gpus(config, encode_config)
    if gpus and config.workers is None:
        config = replace(config, workers=gpus)  # one worker per GPU: each CUDA context is large
    workers, threads = plan_workers(config, available_cpus(), len(jobs))
    share = threads if config.scheduler in (None, "local-dask") or config.threads else None
    return [replace(job, threads=share) for job in jobs], workers, threads, gpus


def _local_gpus(config: BatchConfig, encode_config: Any) -> int:
    """CUDA devices a local pool spreads its workers over (0: none, or a Dask cluster)."""
    if config.scheduler is not None or encode_config.device not in ("auto", "cuda"):
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _split_finished(jobs: list[Job], journal: Journal) -> tuple[list[Job], list[dict[str, Any]]]:
    """The jobs still to run, and the journal's rows of those an earlier run finished."""
    finished = journal.rows()
    todo, reused = [], []
    for job in jobs:
        row = finished.get(job.relative)
        if journal.reusable(row, job.input_sha256, job.options_key):
            reused.append({**row, "source": job.input, "input_bytes": job.input_bytes})  # where it is now
        else:
            todo.append(job)
    return todo, reused


def _check_scheduler(scheduler: str | None) -> None:
    if scheduler not in (None, "local-dask") and not scheduler.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise UsageError(f"--scheduler {scheduler}: expected local-dask or a scheduler address such as tcp://HOST:8786")


def _engine(config: BatchConfig, workers: int, threads: int, gpus: int, todo: list[Job]) -> Any:
    if config.scheduler is None:
        from .local_pool import LocalPool

        return LocalPool(workers, threads, gpus)
    from .dask_engine import DaskEngine

    return DaskEngine(config.scheduler, workers, todo[0].threads)


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
            except (OSError, NfcError) as exc:  # a full disk, a folder in the way: this input fails, clearly
                known = base_row(job)
                del known["input"]
                why = exc.strerror or exc if isinstance(exc, OSError) else exc
                row = failed_row(job.relative, f"cannot write {job.output}: {why}", row.get("seconds", 0.0), **known)
        rows.append(row)
        status.job_finished(job, row)
    return rows
