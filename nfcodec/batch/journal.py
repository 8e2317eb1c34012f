"""What makes a batch resumable and safe to kill: one batch at a time per OUTDIR (a lock the
kernel drops when the process dies, kill -9 included), a journal of finished inputs (one
JSON line each, appended and flushed to disk after its `.nff` is in place), and the removal
of temporary files a killed run left behind.

A rerun reuses an input's row only when the journal holds it, the input's content hash and
the options match, and the `.nff` on disk has the hash the row records: a file cannot claim
to be complete unless it is exactly the one that was finished.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterator

from ..errors import UsageError

STATE_DIR = ".nfc-batch"
JOURNAL = "journal.jsonl"
LOCK = "lock"
# fsutil.atomic_write's temporaries: ".<name>.<8 random characters>.part<suffix>"
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.part(\.[A-Za-z0-9]+)?$")
MAX_JOURNAL_LINE = 1 << 20


class BatchLock:
    """An exclusive lock on OUTDIR for the life of this object (fcntl; released by the kernel
    when the process exits, however it exits)."""

    def __init__(self, outdir: Path):
        import fcntl

        state = outdir / STATE_DIR
        state.mkdir(parents=True, exist_ok=True)
        self._fh = open(state / LOCK, "a+")
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "another process"
            self._fh.close()
            raise UsageError(f"another nfc batch is writing to {outdir} ({holder}); wait for it or choose another -o") from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()}\n")
        self._fh.flush()

    def release(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def remove_temporaries(outdir: Path) -> int:
    """Delete the temporary files of an earlier run that was killed mid-write (only names
    atomic_write makes; safe under the lock: nobody else is writing here)."""
    removed = 0
    for root, _dirs, files in os.walk(outdir):
        for name in files:
            if _TEMPORARY.match(name):
                try:
                    (Path(root) / name).unlink()
                    removed += 1
                except OSError:
                    pass
    return removed


class Journal:
    def __init__(self, outdir: Path):
        self.outdir = outdir
        self.path = outdir / STATE_DIR / JOURNAL

    def rows(self) -> dict[str, dict[str, Any]]:
        """The last finished row of each input (a torn last line from a kill is ignored)."""
        found: dict[str, dict[str, Any]] = {}
        for row in self._read():
            if isinstance(row, dict) and isinstance(row.get("input"), str) and row.get("status") == "ok":
                found[row["input"]] = row
        return found

    def _read(self) -> Iterator[Any]:
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return
        with fh:
            for line in fh:
                if len(line) > MAX_JOURNAL_LINE or not line.endswith(b"\n"):
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    continue

    def append(self, row: dict[str, Any]) -> None:
        """One line, written with a single append and flushed to disk before returning."""
        line = (json.dumps(row, sort_keys=True, allow_nan=False, default=_json_default) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(line)
            while view:  # a short write (a signal, a nearly full disk) continues, never tears the line
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def repair(self) -> None:
        """Cut a torn last line (a kill mid-append) so the next append starts a line of its own."""
        try:
            with open(self.path, "rb+") as fh:
                data = fh.read()
                if data and not data.endswith(b"\n"):
                    fh.truncate(data.rfind(b"\n") + 1)
        except FileNotFoundError:
            pass

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Keep only `rows` (the finished inputs of the current batch), atomically."""
        from ..fsutil import atomic_write

        text = "".join(json.dumps(r, sort_keys=True, allow_nan=False, default=_json_default) + "\n" for r in rows if r.get("status") == "ok")
        atomic_write(self.path, text.encode())

    def reusable(self, row: dict[str, Any] | None, input_sha256: str, key: str) -> bool:
        """Whether a journal row still describes the output on disk for this input and options."""
        if row is None or row.get("input_sha256") != input_sha256 or row.get("options_key") != key:
            return False
        output = self.outdir / str(row.get("output", ""))
        if not output.is_file() or output.stat().st_size != row.get("bytes"):
            return False
        return hashlib.sha256(output.read_bytes()).hexdigest() == row.get("output_sha256")


def _json_default(value: Any) -> Any:
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} into the journal")
