"""A first run that never loses data and fails before the work (issue 11): outputs that are
the input, checks before training, honest messages, warnings for poor results."""
from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from nfcodec.errors import ExitStatus
from nfcodec.progress import Progress

from cli_support import assert_one_line_error, run

TINY = ["--widths", "3,6", "--steps", "4"]


@pytest.fixture()
def no_training(monkeypatch):
    """Any training (or reading of the image) fails the test: the command must stop first."""
    import nfcodec.codec
    import nfcodec.modalities.image

    def trained(*_args, **_kwargs):
        raise AssertionError("the encode started working before refusing its options")

    monkeypatch.setattr(nfcodec.codec, "encode_signal", trained)
    monkeypatch.setattr(nfcodec.modalities.image.ImageModality, "read", trained)


def _write_png(path: Path, pixels: np.ndarray) -> Path:
    import imageio.v3 as iio

    iio.imwrite(path, pixels)
    return path


# ---- 2. an output that is the input -------------------------------------------------------


@pytest.mark.parametrize("how", ["same path", "symbolic link", "hard link"])
def test_encode_refuses_an_output_that_is_the_input(tmp_path: Path, small_png: Path, how: str, no_training):
    before = small_png.read_bytes()
    out = small_png
    if how == "symbolic link":
        out = tmp_path / "alias.png"
        out.symlink_to(small_png)
    elif how == "hard link":
        out = tmp_path / "hard.png"
        os.link(small_png, out)
    result = run("encode", str(small_png), "-o", str(out), "-q")
    assert_one_line_error(result, ExitStatus.USAGE_ERROR, "is the input")
    assert small_png.read_bytes() == before


def test_decode_refuses_an_output_that_is_the_input(tmp_path: Path, small_png: Path):
    nff = tmp_path / "one.nff"
    assert run("encode", str(small_png), "-o", str(nff), "-q", *TINY).exit_code == 0
    before = nff.read_bytes()
    assert_one_line_error(run("decode", str(nff), "-o", str(nff)), ExitStatus.USAGE_ERROR, "is the input")
    assert nff.read_bytes() == before
    progressive = run("decode", str(nff), "--progressive", "-o", str(nff))
    assert_one_line_error(progressive, ExitStatus.USAGE_ERROR, "is the input")
    assert nff.read_bytes() == before


def test_help_says_what_happens_to_an_existing_output():
    for command in ("encode", "decode"):
        text = " ".join(run(command, "--help").stdout.split())
        assert "existing output is replaced" in text and "the input" in text


# ---- 3. every check before the work -------------------------------------------------------


def test_plot_without_matplotlib_fails_before_training(small_png: Path, tmp_path: Path, monkeypatch, no_training):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    result = run("encode", str(small_png), "-o", str(tmp_path / "x.nff"), "--plot", str(tmp_path / "p.png"), "-q")
    assert_one_line_error(result, ExitStatus.USAGE_ERROR, "matplotlib")


@pytest.mark.parametrize("args, fragment", [
    (["--target-psnr", "nan"], "target-psnr"),
    (["--device", "cuda:0"], "cuda"),
    (["--device", "tpu"], "device"),
    (["--transform", "gamma9"], "transform"),
])
def test_bad_options_fail_before_reading_the_input(small_png: Path, tmp_path: Path, args, fragment, no_training):
    import torch

    if "cuda:0" in args and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run("encode", str(small_png), "-o", str(tmp_path / "x.nff"), "-q", *args)
    assert_one_line_error(result, ExitStatus.USAGE_ERROR, fragment)


def test_an_impossible_stage_split_fails_before_the_search(small_png: Path, tmp_path: Path, monkeypatch):
    import nfcodec.codec

    def searched(*_args, **_kwargs):
        raise AssertionError("searched before checking the stage split")

    monkeypatch.setattr(nfcodec.codec, "search_for_encode", searched)
    result = run("encode", str(small_png), "-o", str(tmp_path / "x.nff"), "-q", "--widths", "1,2,40")
    assert_one_line_error(result, ExitStatus.USAGE_ERROR, "32")


# ---- 4. honest messages for inputs nfc does not encode ----------------------------------


def test_inputs_of_other_kinds_say_what_they_are_and_what_nfc_encodes(tmp_path: Path, small_png: Path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(200))
    ply = tmp_path / "scan.dat"
    ply.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 0\nend_header\n")
    nff = tmp_path / "a.nff"
    assert run("encode", str(small_png), "-o", str(nff), "-q", *TINY).exit_code == 0
    for path, fragment in ((ply, "mesh"), (nff, "nfc decode")):
        line = assert_one_line_error(run("encode", str(path), "-q"), ExitStatus.DATA_ERROR, fragment)
        assert "PNG" in line and "MP4" in line  # names what nfc does encode
    # a broken clip is read as what it is, a video, and said to be unreadable
    assert_one_line_error(run("encode", str(clip), "-q"), ExitStatus.DATA_ERROR, "cannot read", "as a video")


def test_an_animation_is_not_called_a_video_to_encode(tmp_path: Path):
    import imageio.v3 as iio

    gif = tmp_path / "anim.gif"
    frames = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    iio.imwrite(gif, frames, extension=".gif")
    line = assert_one_line_error(run("encode", str(gif), "-q"), ExitStatus.DATA_ERROR, "3 frames")
    assert "still images" in line and "encode it as a video" not in line


def test_unreadable_input_names_the_kinds_nfc_reads(tmp_path: Path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all" * 10)
    assert_one_line_error(run("encode", str(junk), "-q"), ExitStatus.DATA_ERROR, "cannot read", "PNG, JPEG")


def test_decode_of_a_folder_says_folder(tmp_path: Path):
    folder = tmp_path / "looks.nff"
    folder.mkdir()
    for command in (["decode", str(folder), "-o", str(tmp_path / "o.png")], ["info", str(folder)]):
        assert_one_line_error(run(*command), ExitStatus.DATA_ERROR, "is a folder")


# ---- 5. warnings for poor or degenerate results ------------------------------------------


def test_one_pixel_image_warns_and_prints_no_infinity(tmp_path: Path):
    png = _write_png(tmp_path / "one.png", np.array([[[10, 20, 30]]], np.uint8))
    result = run("encode", str(png), "-o", str(tmp_path / "one.nff"), *TINY)
    assert result.exit_code == 0
    assert "inf dB" not in result.output and "inf" not in result.stdout.replace("info", "")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("nfc: warning:")]
    assert any("tiny" in w for w in warnings) and any("larger than the raw pixels" in w for w in warnings)
    obj = json.loads(run("encode", str(png), "-o", str(tmp_path / "two.nff"), "--json", "-q", *TINY).stdout)
    assert any("tiny" in w for w in obj["warnings"])
    for stage in obj["stages"]:  # null with a reason, never the string "inf"
        assert stage["psnr"] is None and "lossless" in stage["psnr_note"] or isinstance(stage["psnr"], float)


def test_constant_image_warns(tmp_path: Path):
    png = _write_png(tmp_path / "grey.png", np.full((24, 24), 128, np.uint8))
    obj = json.loads(run("encode", str(png), "-o", str(tmp_path / "g.nff"), "--json", "-q", *TINY).stdout)
    assert any("constant" in w for w in obj["warnings"])


def test_noise_warns_of_low_quality(tmp_path: Path):
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    png = _write_png(tmp_path / "noise.png", noise)
    result = run("encode", str(png), "-o", str(tmp_path / "n.nff"), "--json", *TINY)
    obj = json.loads(result.stdout)
    assert obj["stages"][-1]["psnr"] < 20
    assert any("low quality" in w for w in obj["warnings"])
    assert "nfc: warning: low quality" in result.stderr


def test_a_photo_gets_no_warnings(tmp_path: Path, sample_pixels: np.ndarray):
    png = _write_png(tmp_path / "photo.png", sample_pixels[128:256, 256:384])
    obj = json.loads(run("encode", str(png), "-o", str(tmp_path / "p.nff"), "--json", "-q", "--widths", "4,8", "--steps", "60").stdout)
    assert obj["warnings"] == [] and obj["stages"][-1]["psnr"] > 20


def test_progress_in_a_log_prints_a_line_every_few_seconds(monkeypatch):
    clock = iter(float(t) for t in range(0, 1000, 2))  # every call: 2 s later
    monkeypatch.setattr("nfcodec.progress.time.perf_counter", lambda: next(clock))
    log = io.StringIO()  # not a terminal
    progress = Progress(stream=log, log_interval=5.0)
    progress.start("stage 1/4", 30)
    for step in range(1, 31):
        progress.update(step, f"psnr {step:.2f} dB")
    lines = log.getvalue().splitlines()
    assert 10 <= len(lines) <= 21 and all("stage 1/4" in line and "\r" not in line for line in lines)
