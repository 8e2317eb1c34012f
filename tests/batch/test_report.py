"""`nfc report` / `nfc batch --compare`: classic codecs on the batch's inputs, plots, HTML."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from batch_support import FAST, read_report
from cli_support import assert_one_line_error, run

from nfcodec.errors import ExitStatus

pytest.importorskip("matplotlib")


def test_batch_compare_measures_every_image_codec_and_draws_the_page(image_folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = run("batch", str(image_folder), "-o", str(out), *FAST, "--compare")
    assert result.exit_code == 0, result.output
    compare = json.loads((out / "compare.json").read_text())["inputs"]
    report = read_report(out)
    assert {e["input_sha256"] for e in compare.values()} == {r["input_sha256"] for r in report["inputs"]}
    for entry in compare.values():
        codecs = {p["codec"] for p in entry["points"]}
        assert codecs == {"jpeg", "webp", "avif", "jxl"}, entry.get("skipped")
        jpeg = sorted((p["setting"], p["metrics"]["psnr"]) for p in entry["points"] if p["codec"] == "jpeg")
        assert jpeg[0][1] < jpeg[-1][1]  # quality 10 below quality 95
    for name in ("rd_image.png", "rd_image.svg", "stages_image.png", "stages_image.svg", "report.html"):
        assert (out / name).stat().st_size > 1000, name
    page = (out / "report.html").read_text()
    assert "<img src='rd_image.svg'" in page and "<img src='stages_image.svg'" in page
    assert "JPEG XL" in page and "nested/img02.png" in page and "w2" in page


def test_two_presets_are_two_curves_and_measurements_are_reused(image_folder: Path, tmp_path: Path):
    small, large = tmp_path / "small", tmp_path / "large"
    assert run("batch", str(image_folder), "-o", str(small), *FAST).exit_code == 0
    assert run("batch", str(image_folder), "-o", str(large), *FAST, "--steps", "12").exit_code == 0
    page = tmp_path / "page"
    result = run("report", str(small), str(large), "-o", str(page), "--codecs", "jpeg,webp", "--json", "-q")
    assert result.exit_code == 0, result.output
    curves = json.loads(result.stdout)["curves"]["image"]
    ours = [c for c in curves if c["kind"] == "ours"]
    assert [c["label"].split(" ")[1].rsplit("/", 1)[-1] for c in ours] == ["small", "large"] and all(len(c["points"]) == 2 for c in ours)
    assert "steps=12" in ours[1]["label"] and [c["notes"] for c in ours] == [["w1", "w2"]] * 2
    assert sorted(c["label"].split(" ")[0] for c in curves if c["kind"] == "classic") == ["JPEG", "WebP"]
    cached = (page / "compare.json").read_bytes()
    assert run("report", str(small), "-o", str(page), "--codecs", "jpeg", "-q").exit_code == 0
    assert (page / "compare.json").read_bytes() == cached  # nothing measured again
    html = (page / "report.html").read_text()
    assert "href='../small/report.csv'" in html


def test_report_errors_are_one_line(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run("report", str(tmp_path / "empty")), ExitStatus.DATA_ERROR, "holds no report.json")
    assert_one_line_error(run("report", str(tmp_path / "empty"), "--codecs", "jpeg,nope"), ExitStatus.USAGE_ERROR, "unknown codec nope")
