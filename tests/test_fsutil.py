from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from nfcodec.errors import UsageError
from nfcodec.fsutil import WriteError, atomic_write


def test_failed_write_leaves_previous_file_and_no_temp(tmp_path: Path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_bytes_write_and_missing_folder(tmp_path: Path):
    atomic_write(tmp_path / "a.bin", b"data")
    assert (tmp_path / "a.bin").read_bytes() == b"data"
    with pytest.raises(UsageError):
        atomic_write(tmp_path / "missing" / "a.bin", b"x")


def test_outputs_get_the_ordinary_file_mode(tmp_path: Path):
    import os

    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "m.bin", b"x")
    finally:
        os.umask(umask)
    assert (tmp_path / "m.bin").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("code, works", [(errno.ENOLCK, True), (errno.EIO, False)])
def test_a_file_system_without_locks_is_written_unlocked_and_a_failing_lock_leaves_nothing(tmp_path: Path, monkeypatch,
                                                                                          code: int, works: bool):
    import fcntl

    real = fcntl.flock

    def flock(fd, operation):
        if operation == fcntl.LOCK_EX:  # the writer's own lock (cleaning asks with LOCK_NB)
            raise OSError(code, os.strerror(code))
        return real(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    target = tmp_path / "out.bin"
    if works:
        atomic_write(target, b"data")
        assert target.read_bytes() == b"data"
    else:
        with pytest.raises(WriteError, match="Input/output error"):
            atomic_write(target, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out.bin"] if works else [])
