from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from nfcodec import container
from nfcodec.errors import ExitStatus

from cli_support import assert_one_line_error, run

TINY_ARGS = ["--widths", "3,6,9", "--steps", "6", "-q"]



@pytest.fixture()
def encoded(tmp_path: Path, small_png: Path) -> Path:
    out = tmp_path / "crop.nff"
    result = run("encode", str(small_png), "-o", str(out), *TINY_ARGS)
    assert result.exit_code == 0, result.output
    return out



def test_encode_json(tmp_path: Path, small_png: Path):
    out = tmp_path / "a.nff"
    result = run("encode", str(small_png), "-o", str(out), "--json", *TINY_ARGS)
    assert result.exit_code == 0
    obj = json.loads(result.stdout)
    assert obj["output"] == str(out) and obj["bytes"] == out.stat().st_size
    assert obj["modality"] == "image" and obj["transform"]["id"] == 0
    assert obj["seconds"] > 0
    assert [s["width"] for s in obj["stages"]] == [3, 6, 9]
    for stage in obj["stages"]:
        assert {"width", "params", "bytes", "psnr"} <= set(stage)


def test_encode_default_output_is_beside_the_input(small_png: Path):
    result = run("encode", str(small_png), *TINY_ARGS)
    assert result.exit_code == 0
    assert small_png.with_suffix(".nff").is_file()


def test_decode_and_info_json(tmp_path: Path, encoded: Path):
    png = tmp_path / "out.png"
    result = run("decode", str(encoded), "-o", str(png), "--width", "2", "--json")
    obj = json.loads(result.stdout)
    assert obj == obj | {"output": str(png), "width": 2, "widths_available": 3, "complete": True}
    assert png.is_file()
    info = json.loads(run("info", str(encoded), "--json").stdout)
    assert info["version"] == "1.0" and info["complete"] is True and info["modality"] == "image"
    assert info["transform"]["id"] == 0
    assert [(s["index"], s["width"]) for s in info["stages"]] == [(1, 3), (2, 6), (3, 9)]
    assert all({"offset", "length", "params"} <= set(s) for s in info["stages"])
    text = run("info", str(encoded))
    assert text.exit_code == 0 and "NSTG" in text.stdout


def test_truncated_file_decodes_the_largest_complete_width(tmp_path: Path, encoded: Path):
    data = encoded.read_bytes()
    header = container.read_header(data)
    cut = tmp_path / "cut.nff"
    cut.write_bytes(data[: header.stages[1].chunk.end + 5])
    result = run("decode", str(cut), "-o", str(tmp_path / "c.png"), "--json")
    assert result.exit_code == 0
    obj = json.loads(result.stdout)
    assert obj["width"] == 2 and obj["complete"] is False
    assert "truncated" in result.stderr
    high = run("decode", str(cut), "-o", str(tmp_path / "d.png"), "--width", "3")
    assert high.exit_code == 0 and "decoded width 2" in high.stderr
    strict = run("decode", str(cut), "--strict", "-o", str(tmp_path / "e.png"))
    assert_one_line_error(strict, ExitStatus.DATA_ERROR, "truncated")
    assert not (tmp_path / "e.png").exists()


def test_width_above_a_complete_file_is_an_error(tmp_path: Path, encoded: Path):
    result = run("decode", str(encoded), "--width", "4", "-o", str(tmp_path / "x.png"))
    assert_one_line_error(result, ExitStatus.USAGE_ERROR, "out of range")


def _rewrite_chunk(data: bytes, offset: int, new_type: bytes) -> bytes:
    (length,) = struct.unpack_from(">I", data, offset)
    body = data[offset + 8 : offset + 8 + length]
    crc = struct.pack(">I", zlib.crc32(new_type + body) & 0xFFFFFFFF)
    return data[: offset + 4] + new_type + body + crc + data[offset + 12 + length :]


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("empty", "empty"),
        ("not_nff", "signature"),
        ("crc", "crc"),
        ("header_cut", "header"),
        ("unknown_critical", "index"),
        ("missing", "no such file"),
    ],
)
def test_bad_nff_inputs_get_one_line_errors(tmp_path: Path, encoded: Path, case: str, fragment: str):
    data = encoded.read_bytes()
    header = container.read_header(data)
    bad = tmp_path / "bad.nff"
    if case == "empty":
        bad.write_bytes(b"")
    elif case == "not_nff":
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    elif case == "crc":
        flip = header.stages[0].chunk.offset + 20
        bad.write_bytes(data[:flip] + bytes([data[flip] ^ 1]) + data[flip + 1 :])
    elif case == "header_cut":
        bad.write_bytes(data[:30])
    elif case == "unknown_critical":
        # a CRC-valid chunk whose type is an unknown critical one, where the index says NSTG
        bad.write_bytes(_rewrite_chunk(data, header.stages[0].chunk.offset, b"XSTG"))
    if case != "missing":
        assert bad.exists()
    for command in ("decode", "info"):
        args = [command, str(bad)] + (["-o", str(tmp_path / "o.png")] if command == "decode" else [])
        result = run(*args)
        assert_one_line_error(result, ExitStatus.DATA_ERROR, fragment)
    assert not (tmp_path / "o.png").exists()


def test_bad_image_inputs(tmp_path: Path, small_png: Path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert_one_line_error(run("encode", str(text), "-q"), ExitStatus.DATA_ERROR, "cannot read")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert_one_line_error(run("encode", str(empty), "-q"), ExitStatus.DATA_ERROR, "empty")
    missing_dir = tmp_path / "nope" / "x.nff"
    assert_one_line_error(run("encode", str(small_png), "-o", str(missing_dir), "-q"), ExitStatus.USAGE_ERROR, "folder")
    assert not missing_dir.parent.exists()


def test_usage_errors_exit_2(small_png: Path):
    result = run("encode", str(small_png), "--widths", "5,3")
    assert result.exit_code == 2
    assert_one_line_error(run("encode", str(small_png), "--widths", "1,2,40", "-q"), ExitStatus.USAGE_ERROR, "32")
    assert run("encode", str(small_png), "--seed", "99999999999999999999").exit_code == 2
    assert run("encode", str(small_png), "--lr", "1e308").exit_code == 2
    assert run("decode").exit_code == 2


def test_interrupted_encode_leaves_no_output(tmp_path: Path, small_png: Path, monkeypatch):
    import nfcodec.codec

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nfcodec.codec, "encode_signal", interrupted)
    out = tmp_path / "x.nff"
    result = run("encode", str(small_png), "-o", str(out), "-q")
    assert result.exit_code == int(ExitStatus.INTERRUPTED)
    assert list(tmp_path.glob("x.nff*")) == [] and list(tmp_path.glob(".x.nff*")) == []


def test_every_command_help_has_an_example():
    for command in ("encode", "decode", "info"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Example:" in result.stdout and "nfc " + command in result.stdout


def test_encode_plot(tmp_path: Path, small_png: Path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "widths.png"
    result = run("encode", str(small_png), "-o", str(tmp_path / "p.nff"), "--plot", str(plot), *TINY_ARGS)
    assert result.exit_code == 0 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
