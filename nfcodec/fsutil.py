"""Atomic output: write to a temporary file beside the target, then rename over it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from .errors import InputError, UsageError


def input_file(path: str | os.PathLike) -> Path:
    """`path` as a Path if it names a file to read, else a one-line InputError saying why not."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file")
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if not path.is_file():
        raise InputError(f"{path} is not a regular file")
    return path


def check_output_path(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """The output `path`, checked before any work: its folder exists, it is not a folder, and
    it is none of `inputs` (the same file by any name: a symbolic or hard link included), since
    replacing an input with its own encoding destroys it. An existing output is replaced."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output folder does not exist: {parent}")
    if target.is_dir():
        raise UsageError(f"output path is a folder: {target}")
    for source in inputs:
        if _same_file(target, Path(source)):
            raise UsageError(f"the output {target} is the input {source}: writing it would destroy the input; choose another -o")
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist (yet): they cannot be one file
        return os.path.abspath(a) == os.path.abspath(b)


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
