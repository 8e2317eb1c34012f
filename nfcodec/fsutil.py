"""Atomic output: write to a temporary file beside the target, then rename over it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from .errors import UsageError


def check_output_path(path: str | os.PathLike) -> Path:
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output folder does not exist: {parent}")
    if target.is_dir():
        raise UsageError(f"output path is a folder: {target}")
    return target


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None] | bytes) -> Path:
    """Create `path` atomically. `write` is the bytes, or a function that writes a given path.

    An interrupted or failed write leaves the previous file (or nothing) in place, never a
    partial one.
    """
    target = check_output_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix, dir=target.parent or ".")
    tmp = Path(tmp_name)
    try:
        # mkstemp creates 0600; give the file the mode an ordinary write would (0666 & ~umask)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        if isinstance(write, (bytes, bytearray)):
            with os.fdopen(fd, "wb") as fh:
                fh.write(write)
        else:
            os.close(fd)
            write(tmp)
        with open(tmp, "rb+") as fh:  # durable before it becomes visible
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
