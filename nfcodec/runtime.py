"""Process-wide runtime settings the CLI and the benchmarks apply at start-up.

glibc serves every allocation above 128 KiB-32 MiB with a fresh mmap and unmaps it on free, so
each step of training pays first-touch page faults for every large tensor it creates (on our
VMs ~1 us per 4 KiB page: a 64 MiB ReLU output costs 15 ms, the ReLU itself 1-3 ms). Raising
the mmap and trim thresholds keeps freed blocks in the heap for reuse. Freed memory is then
returned to the system only when the process ends, which suits a command-line encoder; a
long-lived service embedding nfcodec may prefer not to call this.
"""
from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_applied: bool | None = None


def tune_allocator(threshold: int = 1 << 30) -> bool:
    """Keep blocks up to `threshold` bytes in glibc's heap; True if applied (glibc only)."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * threshold - 1))
    return _applied
