"""Atomic output: write to a temporary file beside the target, then rename over it."""
from __future__ import annotations

import errno
import fcntl
import os
import re
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from .errors import ExitStatus, InputError, NfcError, UsageError


class WriteError(NfcError, OSError):
    """An output could not be written (a full disk, a read-only or forbidden folder): one line
    for users, and still an OSError (errno, strerror) for callers that handle those."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


class FolderNotWritable(WriteError):
    """The output folder refuses new files (found before any work: a usage error)."""

    exit_status = ExitStatus.USAGE_ERROR

    def __str__(self) -> str:
        return f"cannot write to the output folder {self.filename}: {self.strerror}"


def write_error(path: Path, exc: OSError) -> WriteError:
    code = exc.errno or errno.EIO
    return WriteError(code, exc.strerror or os.strerror(code), str(path))


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
    parent = target.parent  # Path("x").parent is Path(".")
    if not parent.is_dir():
        raise UsageError(f"output folder does not exist: {parent}")
    if target.is_dir():
        raise UsageError(f"output path is a folder: {target}")
    check_writable_folder(parent)
    for source in inputs:
        if _same_file(target, Path(source)):
            raise UsageError(f"the output {target} is the input {source}: writing it would destroy the input; choose another -o")
    return target


def check_writable_folder(folder: Path) -> None:
    """Refuse a folder this process cannot create files in before any work is done, rather
    than after a long encode (a failure at write time is still reported by atomic_write)."""
    effective = os.access in os.supports_effective_ids
    if os.access(folder, os.W_OK | os.X_OK, effective_ids=effective):
        return
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    code = errno.EROFS if read_only else errno.EACCES
    raise FolderNotWritable(code, os.strerror(code), str(folder))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist (yet): they cannot be one file
        return os.path.abspath(a) == os.path.abspath(b)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None] | bytes) -> Path:
    """Create `path` atomically. `write` is the bytes, or a function that writes a given path.

    An interrupted or failed write leaves the previous file (or nothing) in place, never a
    partial one; an OSError (a full disk, a forbidden folder) is a one-line WriteError. The
    temporary file is locked while it is written, so that the next write of the same target
    can remove temporaries a killed process left behind without touching a live one.
    """
    target = check_output_path(path)
    remove_stale_temporaries(target)
    try:
        fd, tmp = _locked_temporary(target)
    except OSError as exc:
        raise write_error(target, exc) from None
    try:
        # mkstemp creates 0600; give the file the mode an ordinary write would (0666 & ~umask)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        if isinstance(write, (bytes, bytearray)):
            view = memoryview(write)
            while view:
                view = view[os.write(fd, view):]
        else:
            write(tmp)
        with open(tmp, "rb+") as fh:  # durable before it becomes visible
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, NfcError):
            raise write_error(target, exc) from None
        raise
    finally:
        os.close(fd)
    return target


def _locked_temporary(target: Path) -> tuple[int, Path]:
    """A new temporary beside `target`, open and locked (the lock, held until the rename,
    marks it live). Between its creation and the lock, another writer of the same target may
    take it for a killed one's and remove it: then try again."""
    folder = target.parent
    for _ in range(8):
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix, dir=folder)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                # a file system without locks (some network mounts): write unlocked; the next
                # writer's cleaning cannot lock it either, so it leaves it alone
                return fd, Path(name)
            os.close(fd)
            os.unlink(name)
            raise
        try:
            if os.path.samestat(os.fstat(fd), os.lstat(name)):
                return fd, Path(name)
        except FileNotFoundError:
            pass
        os.close(fd)
    raise OSError(errno.EAGAIN, "temporary files keep vanishing (another process removes them)")


def _temporary_pattern(target: Path) -> re.Pattern[str]:
    """The names mkstemp gives atomic_write's temporaries of `target` (8 random characters)."""
    return re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.part{re.escape(target.suffix)}")


def remove_stale_temporaries(target: str | os.PathLike) -> int:
    """Delete the temporaries of `target` that no live process holds (a writer killed with
    SIGKILL leaves its temporary behind; the kernel drops its lock). Returns how many."""
    target = Path(target)
    folder = target.parent
    pattern = _temporary_pattern(target)
    removed = 0
    try:
        names = [n for n in os.listdir(folder) if pattern.fullmatch(n)]
    except OSError:
        return 0
    for name in names:
        path = folder / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # still the file we locked (not renamed into place and replaced meanwhile)
            if os.path.samestat(os.fstat(fd), os.lstat(path)):
                os.unlink(path)
                removed += 1
        except OSError:
            pass  # locked by a live writer, gone already, or not ours to remove
        finally:
            os.close(fd)
    return removed
