"""An output folder nfc may not write in (mode 0555, for a process the permissions bind; or a
read-only file system): one clear line, before any work, and nothing written."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import imageio.v3 as iio
import pytest
from cli_support import run
from faults_support import SAMPLES, error_lines, in_tmpfs, nfc, unprivileged
from http_servers import FileServer

ENCODE = ["--steps", "5", "--stages", "2", "--transform", "none"]
REAL_VECTORS = Path(__file__).resolve().parents[2] / "formats" / "vectors" / "real"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ro-in")
    iio.imwrite(root / "crop.png", iio.imread(SAMPLES / "kodim23.png")[200:232, 300:332])
    assert run("encode", str(root / "crop.png"), "-o", str(root / "crop.nff"), *ENCODE, "-q").exit_code == 0
    (root / "clip.nff").write_bytes((REAL_VECTORS / "real_clip.nff").read_bytes())  # a clip, without an encode
    for path in (root, *root.iterdir()):  # readable by anyone (the test may run nfc as nobody)
        path.chmod(path.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
    return root


@pytest.fixture()
def locked(tmp_path) -> Path:
    """A folder with one file in it that this test's nfc may not write in."""
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "old.png").write_bytes(b"an older output")
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def _check_refused(done, folder: Path, why: str = "Permission denied") -> None:
    # the only line on stderr, though the commands below print progress: no work was started
    assert done.returncode == 2 and error_lines(done) == [f"nfc: error: cannot write to the output folder {folder}: {why}"], done.stderr
    assert os.listdir(folder) == ["old.png"] and (folder / "old.png").read_bytes() == b"an older output"


def test_encode_refuses_a_folder_it_may_not_write_before_training(inputs, locked):
    preexec = unprivileged(locked, inputs / "crop.png")
    done = nfc("encode", str(inputs / "crop.png"), "-o", str(locked / "x.nff"), *ENCODE, cwd=inputs, preexec=preexec)
    _check_refused(done, locked)


@pytest.mark.parametrize("target", ["old.png", "new.png"])
def test_decode_refuses_a_folder_it_may_not_write(inputs, locked, target):
    preexec = unprivileged(locked, inputs / "crop.png")
    done = nfc("decode", str(inputs / "crop.nff"), "-o", str(locked / target), cwd=inputs, preexec=preexec)
    _check_refused(done, locked)


def test_a_clip_decoded_to_frames_refuses_a_folder_it_may_not_write(inputs, locked):
    preexec = unprivileged(locked, inputs / "crop.png")
    done = nfc("decode", str(inputs / "clip.nff"), "--frames-dir", str(locked / "frames"), cwd=inputs, preexec=preexec)
    _check_refused(done, locked)


def test_a_progressive_url_decode_refuses_before_fetching(inputs, locked):
    server = FileServer(inputs)
    try:
        preexec = unprivileged(locked, inputs / "crop.png")
        done = nfc("decode", server.url("range", "crop.nff"), "--progressive", "-o", str(locked / "live.png"), cwd=inputs, preexec=preexec)
        _check_refused(done, locked)
        assert server.log == []
    finally:
        server.stop()


def test_batch_refuses_an_output_folder_it_may_not_write(inputs, locked):
    (locked.parent / "in").mkdir()
    (locked.parent / "in" / "crop.png").write_bytes((inputs / "crop.png").read_bytes())
    for path in (locked.parent / "in", locked.parent / "in" / "crop.png"):
        path.chmod(0o755)
    preexec = unprivileged(locked, inputs / "crop.png")
    done = nfc("batch", str(locked.parent / "in"), "-o", str(locked), *ENCODE, "-q", "--workers", "1", cwd=inputs, preexec=preexec)
    assert done.returncode == 2 and len(error_lines(done)) == 1, done.stderr
    assert f"cannot write to the output folder {locked}" in done.stderr and "permission denied" in done.stderr.lower()
    assert os.listdir(locked) == ["old.png"]


def test_a_read_only_file_system_is_refused_before_training(inputs, tmp_path):
    (tmp_path / "out").mkdir()
    found = in_tmpfs(tmp_path / "out", "size=64k,ro", ["encode", str(inputs / "crop.png"), "-o", "out/x.nff", *ENCODE], tmp_path,
                     previous=("x.nff", "the previous output"))
    assert found["rc"] == 2 and found["stderr"] == "nfc: error: cannot write to the output folder out: Read-only file system\n", found
    assert found["files"] == {"x.nff": "the previous output"}
