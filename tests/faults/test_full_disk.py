"""A disk that fills up while nfc writes: the kernel fails the write (EFBIG past a file size
limit; ENOSPC on a tiny tmpfs). Every command says so in one line, exits 1 and leaves the
previous output (or none), never a partial one, and no temporary file."""
from __future__ import annotations

import os
from pathlib import Path

import imageio.v3 as iio
import pytest
from cli_support import run
from faults_support import SAMPLES, error_lines, file_size_limit, in_tmpfs, nfc, temporaries
from http_servers import FileServer

PREVIOUS = "the previous output\n"
ENCODE = ["--steps", "5", "--stages", "2", "--transform", "none", "-q"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("disk-in")
    iio.imwrite(root / "crop.png", iio.imread(SAMPLES / "kodim23.png")[200:264, 300:364])
    for args in (["encode", str(root / "crop.png"), "-o", str(root / "crop.nff"), *ENCODE],
                 ["encode", str(SAMPLES / "carphone_24f.mp4"), "--frames", "0:4", "--resize", "48x40", "-o", str(root / "clip.nff"), *ENCODE]):
        assert run(*args).exit_code == 0
    return root


@pytest.fixture()
def work(tmp_path) -> Path:
    (tmp_path / "out").mkdir()
    return tmp_path


def _check_refused(done, work: Path, name: str, previous: bool, why: str = "File too large") -> None:
    """Exit 1, the error first on stderr, the output untouched, no temporary."""
    assert done.returncode == 1, done.stderr
    assert error_lines(done) == [f"nfc: error: cannot write out/{name}: {why}"], done.stderr
    assert sorted(os.listdir(work / "out")) == ([name] if previous else []), "a partial output or a temporary is left"
    if previous:
        assert (work / "out" / name).read_text() == PREVIOUS


# (arguments, output, file size limit: below the output's size, above anything else written)
COMMANDS = {
    "encode image": (["encode", "{in}/crop.png", "-o", "out/x.nff", *ENCODE], "x.nff", 8000),
    "encode clip": (["encode", str(SAMPLES / "carphone_24f.mp4"), "--frames", "0:4", "--resize", "48x40", "-o", "out/x.nff", *ENCODE],
                    "x.nff", 30000),  # the clip's frame store (23 KB) fits; the file (~36 KB) does not
    "decode image": (["decode", "{in}/crop.nff", "-o", "out/x.png"], "x.png", 2000),
    "decode URL progressive": (["decode", "{url}", "--progressive", "-o", "out/x.png"], "x.png", 2000),
}


@pytest.fixture()
def server(inputs):
    srv = FileServer(inputs)
    yield srv
    srv.stop()


# with a previous output to keep, or none (an encode costs ~10 s: not every pair)
CASES = [("encode image", True), ("encode clip", False), ("decode image", False), ("decode image", True), ("decode URL progressive", True)]


@pytest.mark.parametrize("command, previous", CASES, ids=[f"{c}-{'replacing' if p else 'new'}" for c, p in CASES])
def test_a_write_past_the_file_size_limit_fails_cleanly(inputs, server, work, command, previous):
    args, name, limit = COMMANDS[command]
    args = [a.format(**{"in": inputs, "url": server.url("range", "crop.nff")}) for a in args]
    if previous:
        (work / "out" / name).write_text(PREVIOUS)
    done = nfc(*args, cwd=work, preexec=file_size_limit(limit))
    _check_refused(done, work, name, previous)
    assert temporaries(work) == []


@pytest.mark.parametrize("name, limit", [("x.y4m", 4000), ("x.mp4", 1000)])
def test_a_clip_decode_that_fills_the_disk_fails_cleanly(inputs, work, name, limit):
    done = nfc("decode", str(inputs / "clip.nff"), "-o", f"out/{name}", cwd=work, preexec=file_size_limit(limit))
    _check_refused(done, work, name, previous=False)


def test_a_clip_whose_frames_do_not_fit_the_temporary_folder_fails_clearly(work):
    # the decoded frames are staged in a temporary file (23 KB here) before training
    done = nfc(*COMMANDS["encode clip"][0], cwd=work, preexec=file_size_limit(10000))
    assert done.returncode == 1 and len(error_lines(done)) == 1, done.stderr
    assert error_lines(done)[0].startswith("nfc: error: cannot write ") and "File too large (the clip's decoded frames" in done.stderr
    assert os.listdir(work / "out") == []


def test_a_batch_on_a_full_disk_fails_every_input_clearly_and_writes_no_partial_file(work, sample_pixels):
    (work / "in").mkdir()
    for i in range(2):
        iio.imwrite(work / "in" / f"img{i}.png", sample_pixels[100 + 20 * i:124 + 20 * i, 200:232])
    done = nfc("batch", "in", "-o", "out", *ENCODE, "--workers", "1", cwd=work, preexec=file_size_limit(6000))
    assert done.returncode == 1 and error_lines(done) == ["nfc: 2 of 2 inputs failed: see out/report.csv"], done.stderr
    report = (work / "out" / "report.csv").read_text()
    assert report.count("cannot write img") == 2 and report.count("File too large") == 2, report
    assert not list((work / "out").rglob("*.nff")) and temporaries(work) == []


# ---- a real full file system: a tmpfs of a few pages ----------------------------------------


def test_encoding_onto_a_full_tmpfs_fails_cleanly(inputs, work):
    found = in_tmpfs(work / "out", "size=16k", ["encode", str(inputs / "crop.png"), "-o", "out/x.nff", *ENCODE], work, ("x.nff", PREVIOUS))
    assert found["rc"] == 1 and found["stderr"] == "nfc: error: cannot write out/x.nff: No space left on device\n", found
    assert found["files"] == {"x.nff": PREVIOUS}


def test_decoding_onto_a_full_tmpfs_fails_cleanly(inputs, work):
    # rendered at 4x: a PNG larger than the tmpfs's one page
    found = in_tmpfs(work / "out", "size=4k", ["decode", str(inputs / "crop.nff"), "--scale", "4", "-o", "out/x.png"], work)
    assert found["rc"] == 1 and found["stderr"].startswith("nfc: error: cannot write out/x.png: No space left on device\n"), found
    assert found["files"] == {}


def test_a_clip_decoded_onto_a_full_tmpfs_fails_cleanly(inputs, work):
    found = in_tmpfs(work / "out", "size=8k", ["decode", str(inputs / "clip.nff"), "-o", "out/x.y4m"], work)
    assert found["rc"] == 1 and found["files"] == {}, (found["rc"], {k: len(v) for k, v in found["files"].items()})
