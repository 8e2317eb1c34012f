"""Smoke test: the time-to-quality benchmark runs end to end with tiny caps and writes its JSON."""
from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import bench_support

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "time_to_quality.py"
SAMPLE = REPO / "samples" / "kodim23.png"


def load_benchmark():
    return bench_support.load_benchmark("time_to_quality")


def is_time(x: object) -> bool:
    return x is None or (isinstance(x, float) and x >= 0)


def test_resolve_image(tmp_path: Path) -> None:
    bench = load_benchmark()
    assert bench.resolve_image("kodim05", tmp_path) == tmp_path / "kodim05.png"
    assert bench.resolve_image("5", tmp_path) == tmp_path / "kodim05.png"
    assert bench.resolve_image("kodim05.png", tmp_path) == tmp_path / "kodim05.png"
    assert bench.resolve_image(str(SAMPLE), tmp_path) == SAMPLE


def test_kodak_and_crops(tmp_path: Path) -> None:
    bench = load_benchmark()
    out = tmp_path / "ttq.json"
    argv = ["--parts", "kodak", "crops", "--images", str(SAMPLE), "--crop-images", str(SAMPLE),
            "--grid-cap", "0.3", "--siren-cap", "0.3", "--siren-steps-per-stage", "2", "--grid-eval-every", "2",
            "--siren-eval-every", "1", "--crop-size", "32", "--crop-steps", "2", "--crop-stage-cap", "0.2",
            "--threads", "1", "--out", str(out)]
    result = bench.main(argv)
    data = json.loads(out.read_text())
    assert data["benchmark"] == "time_to_quality" and data["argv"] == argv
    assert "time_to_quality.py" in data["command"]
    for key in ("git_commit", "date", "torch_version", "machine", "device", "settings", "kodak", "crops", "targets", "table_markdown"):
        assert key in data, key
    assert "encode" not in data
    assert data["torch_threads"] == 1
    assert data["settings"]["grid_cap"] == 0.3 and data["settings"]["siren_widths"] == [30, 69, 110, 151]

    (image,) = data["kodak"]["per_image"]
    assert image["image"] == "kodim23" and sorted(image["shape"]) == [512, 768]
    for name in ("grid", "siren"):
        run = image[name]
        assert is_time(run["t30"]) and is_time(run["t35"])
        assert isinstance(run["steps"], int) and run["steps"] >= 1
        assert math.isfinite(run["final_psnr"]) and 0 < run["final_psnr"] < 100
        assert run["seconds"] > 0 and run["eval_seconds"] > 0
        assert run["stopped"] in ("target", "cap", "steps")
        assert run["trace"] and all(len(point) == 4 for point in run["trace"])
        assert [p[0] for p in run["trace"]] == sorted(p[0] for p in run["trace"])  # training clock is monotone
        summary = data["kodak"]["summary"][name]
        assert summary["images"] == 1 and summary["reached_30"] in (0, 1) and summary["reached_35"] in (0, 1)
    assert image["grid"]["phases"][0]["stage"] == 1 and len(image["grid"]["phases"]) == 1

    (crop,) = data["crops"]["per_crop"]
    assert crop["crop"] == 32 and crop["siren"]["widths"] == [30, 69, 110, 151]
    for key in ("psnr", "cum_seconds", "steps"):
        assert len(crop["siren"][key]) == 4
    assert crop["siren"]["cum_seconds"] == sorted(crop["siren"]["cum_seconds"])
    assert crop["grid"]["target_psnr"] == crop["siren"]["psnr"]
    for key in ("psnr", "cum_seconds", "steps", "reached"):
        assert len(crop["grid"][key]) == 4
    assert all(r == (t is not None) for r, t in zip(crop["grid"]["reached"], crop["grid"]["cum_seconds"]))
    assert len(crop["ratio"]) == 4 and all(r is None or r > 0 for r in crop["ratio"])
    # the target is judged on the quality-layer split; the default split is reported beside it
    assert crop["grid"]["levels"] == [10, 12, 14, 16] and crop["grid"]["ratio"] == crop["ratio"]
    assert crop["grid_default_split"]["levels"] == [4, 8, 12, 16]
    assert crop["grid_default_split"]["target_psnr"] == crop["siren"]["psnr"]
    assert len(crop["grid_default_split"]["cum_seconds"]) == 4 and len(crop["grid_default_split"]["ratio"]) == 4
    summary = data["crops"]["summary"]
    assert len(summary["mean_ratio"]) == len(summary["geomean_ratio"]) == len(summary["reached"]) == 4
    assert summary["crops"] == 1 and isinstance(summary["all_reached"], bool)

    (target,) = data["targets"]
    assert target["part"] == "crops" and isinstance(target["pass"], bool)
    assert "### Kodak" in data["table_markdown"] and "### Targets" in data["table_markdown"]
    assert "**mean (reached/N)**" in data["table_markdown"]
    assert result["table_markdown"] == data["table_markdown"]


def test_encode(tmp_path: Path) -> None:
    """The encode part on a small crop of the sample (a full-size encode costs seconds to evaluate)."""
    bench = load_benchmark()
    image = tmp_path / "small.png"
    iio.imwrite(image, np.asarray(iio.imread(SAMPLE))[200:248, 300:364])
    out = tmp_path / "enc.json"
    data = bench.main(["--parts", "encode", "--images", str(image), "--encode-steps", "2", "--no-warm-up", "--out", str(out)])
    assert json.loads(out.read_text())["encode"] == json.loads(json.dumps(data["encode"]))
    (entry,) = data["encode"]["per_image"]
    assert entry["image"] == "small" and len(entry["stage_psnr"]) == 4 and len(entry["stage_bpp"]) == 4
    assert entry["psnr"] == entry["stage_psnr"][-1] and entry["bpp"] > 0 and entry["seconds"] > 0
    assert data["encode"]["config"]["steps"] == 2
    assert set(data["encode"]["summary"]) == {"mean_psnr", "mean_bpp", "mean_seconds"}
    (target,) = data["targets"]
    assert target["part"] == "encode" and isinstance(target["pass"], bool)


def test_unknown_image_is_a_usage_error(tmp_path: Path) -> None:
    bench = load_benchmark()
    with pytest.raises(SystemExit):
        bench.main(["--parts", "encode", "--images", "kodim99", "--data-dir", str(tmp_path), "--out", str(tmp_path / "x.json")])
