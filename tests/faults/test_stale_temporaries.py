"""A writer killed with SIGKILL leaves its hidden temporary behind; the next write of the same
target removes it, but never the temporary of a writer that is still alive."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from cli_support import run
from faults_support import env, temporaries

from nfcodec.fsutil import atomic_write

# writes half its file through atomic_write, says so, then waits for a line on stdin
WRITER = """
import sys, time
from nfcodec.fsutil import atomic_write

def write(tmp):
    with open(tmp, "wb") as fh:
        fh.write(b"half of the writer's")
        fh.flush()
        print("writing", flush=True)
        sys.stdin.readline()
        fh.write(b" file")

atomic_write(sys.argv[1], write)
"""


def _start_writer(target: Path) -> subprocess.Popen:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], env=env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert writer.stdout.readline() == "writing\n"
    return writer


def test_the_next_write_removes_a_killed_writers_temporary(tmp_path):
    target = tmp_path / "out.png"
    writer = _start_writer(target)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    (left,) = temporaries(tmp_path)
    assert left.startswith(".out.png.") and not target.exists()
    (tmp_path / ".other.png.abcdefgh.part.png").write_bytes(b"another target's")  # not ours to remove

    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert temporaries(tmp_path) == [".other.png.abcdefgh.part.png"]


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "out.png"
    writer = _start_writer(target)
    try:
        atomic_write(target, b"meanwhile")  # a second writer of the same target
        assert len(temporaries(tmp_path)) == 1 and target.read_bytes() == b"meanwhile"
        writer.stdin.write("go on\n")
        writer.stdin.flush()
        assert writer.wait(timeout=60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
    assert target.read_bytes() == b"half of the writer's file" and temporaries(tmp_path) == []


def test_nfc_removes_what_a_killed_nfc_left_and_nothing_else(tmp_path, small_png):
    # what a SIGKILLed `nfc encode -o out.nff` leaves: an unlocked temporary of the target
    stale = tmp_path / ".out.nff.k1ll3d_9.part.nff"
    stale.write_bytes(b"half an encode")
    other = tmp_path / ".other.nff.k1ll3d_9.part.nff"
    other.write_bytes(b"another target's")
    assert run("encode", str(small_png), "-o", str(tmp_path / "out.nff"), "--steps", "2", "--stages", "1", "--transform", "none",
               "-q").exit_code == 0
    assert not stale.exists() and other.exists() and (tmp_path / "out.nff").is_file()
