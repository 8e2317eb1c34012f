"""Thread pools that fit the machine: sized from the CPUs this process may use, idle threads
that sleep instead of spinning.

Why: torch (OpenMP) and numba keep worker threads that busy-wait between parallel regions.
When the cores are shared (two encodes at once, a batch, a browser), a spinning thread burns
the time slice its partner needs to reach the same barrier, and an encode ran 5-20x slower
instead of 2x. So the pools are sized from the CPU affinity and the cgroup quota (not the
host's core count), OpenMP's idle threads wait passively (GOMP_SPINCOUNT for GNU libgomp,
KMP_BLOCKTIME for Intel's), and numba uses the OpenMP threading layer so that both pools
follow the same policy. `benchmarks/contention.py` measures the effect.

The OpenMP settings are read when the libraries load, so `configure_threads` must run before
torch or numba is imported (the `nfc` command does so first). Called later it still sizes the
pools. A variable the user already set in the environment is never overridden.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError

THREADS_ENV = "NFC_THREADS"
MAX_THREADS = 1024
# Spin-waits of an idle OpenMP thread before it sleeps. libgomp spins 300,000 times by default
# (a few hundred microseconds); 1000 is the count libgomp itself falls back to when it sees more
# threads than CPUs, and costs a quiet machine little.
SPIN_COUNT = "1000"
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class ThreadSettings:
    threads: int  # the pool size applied to torch, numba, OpenMP and BLAS
    source: str  # "option", "environment" ($NFC_THREADS, $OMP_NUM_THREADS) or "machine" (affinity, quota)
    cpus_available: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cgroup_cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs granted by the cgroup's CFS quota (v2 `cpu.max`, or v1), None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota == "max":
            return None
        return int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def available_cpus(cgroup_root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may run on: its affinity mask, capped by the cgroup quota (at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        # rounded down: a thread beyond the quota is throttled mid-region and stalls its partners
        cpus = min(cpus, max(1, math.floor(quota)))
    return max(1, cpus)


def resolve_threads(requested: int | None = None, environ: dict[str, str] | None = None) -> ThreadSettings:
    """The thread count to use: `requested`, else $NFC_THREADS, else $OMP_NUM_THREADS, else the
    CPUs available."""
    environ = os.environ if environ is None else environ
    cpus = available_cpus()
    named = next((name for name in (THREADS_ENV, "OMP_NUM_THREADS") if environ.get(name, "").strip()), None)
    if requested is not None:
        source, count = "option", requested
    elif named is not None:
        raw = environ[named].strip()
        try:
            count = int(raw)
        except ValueError:
            raise UsageError(f"${named} must be a whole number of threads, got {raw!r}") from None
        source = "environment"
    else:
        source, count = "machine", cpus
    if not 1 <= count <= MAX_THREADS:
        raise UsageError(f"the thread count must be between 1 and {MAX_THREADS}, got {count}")
    return ThreadSettings(count, source, cpus)


def configure_threads(requested: int | None = None) -> ThreadSettings:
    """Size every thread pool to the resolved count and make idle OpenMP threads sleep.

    A given thread count gives byte-identical results on every run; the wait policy changes
    only timing, never results.
    """
    settings = resolve_threads(requested)
    set_wait_policy()
    count = str(settings.threads)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        if name == "NUMBA_NUM_THREADS" and "numba" in sys.modules:
            # read once, when numba loads; a later change makes numba refuse to compile anything
            # ("cannot set NUMBA_NUM_THREADS once the threads have been launched"): the loaded
            # pool is resized below instead
            continue
        os.environ[name] = count  # our chosen size wins: the pools must agree with each other
    _apply_to_loaded_libraries(settings.threads)
    return settings


def set_wait_policy() -> None:
    """Put the idle-thread policy in the environment (before the thread libraries load)."""
    if "OMP_WAIT_POLICY" not in os.environ:  # a policy the user chose stands as it is
        os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
    os.environ.setdefault("KMP_BLOCKTIME", "0")  # Intel OpenMP (MKL builds): sleep at once
    # OpenMP first (it follows the wait policy above); TBB, then numba's own workqueue, if absent
    os.environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", "omp tbb workqueue")


def _apply_to_loaded_libraries(threads: int) -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    numba = sys.modules.get("numba")
    if numba is not None:
        # numba's pool was sized when it loaded; it can run fewer threads, never more
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
