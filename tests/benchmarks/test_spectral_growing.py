"""Smoke test: the spectral-growing benchmark runs end to end on a tiny crop and writes its JSON."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import bench_support

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "spectral_growing.py"


def load_benchmark():
    return bench_support.load_benchmark("spectral_growing")


@pytest.fixture
def image() -> Path:
    """The bundled Kodak sample (the benchmark crops its centre)."""
    return REPO / "samples" / "kodim23.png"


def test_main_writes_json(tmp_path: Path, image: Path) -> None:
    bench = load_benchmark()
    threads_before = torch.get_num_threads()
    out = tmp_path / "sg.json"
    argv = ["--images", str(image), "--crop", "16", "--steps", "3", "--threads", "1", "--out", str(out),
            "--no-plot", "--quiet"]
    result = bench.main(argv)
    data = json.loads(out.read_text())
    assert data["benchmark"] == "spectral_growing"
    assert data["argv"] == argv and "spectral_growing.py" in data["command"]
    for key in ("git_commit", "date", "torch_version", "machine", "settings", "params", "paper", "per_image", "mean"):
        assert key in data, key
    assert data["machine"]["cpu_count"] >= 1
    assert data["settings"]["crop"] == 16 and data["settings"]["steps"] == 3
    assert data["params"]["progressive"] == [3903, 15057, 33507, 58681]
    assert data["params"]["individual"] == [3903, 15003, 33303, 58803]
    assert data["params"]["matches_paper"] is True
    (entry,) = data["per_image"].values()
    for method in ("progressive", "individual"):
        psnrs = entry[method]["psnr"]
        assert len(psnrs) == 4 and all(math.isfinite(p) and 0 < p < 100 for p in psnrs)
        assert entry[method]["seconds"] > 0
        assert len(data["mean"]["psnr"][method]) == 4
    # Frozen earlier stages decode exactly as they did when their stage ended.
    assert entry["progressive"]["max_abs_drift_of_earlier_widths"] == 0.0
    # Same seed and init: width 30 is the same network in both methods (equal up to float
    # summation order: the progressive net multiplies slices of its width-151 tensors).
    assert entry["progressive"]["psnr"][0] == pytest.approx(entry["individual"]["psnr"][0], abs=0.05)
    assert result["mean"] == data["mean"]
    assert "| 1 | 30 / 30 | 3,903 / 3,903 |" in data["table_markdown"]
    assert data["machine"]["torch_threads"] == 1
    assert torch.get_num_threads() == threads_before  # main() restores the caller's setting


def test_slimmable_only(tmp_path: Path, image: Path) -> None:
    bench = load_benchmark()
    out = tmp_path / "slim.json"
    bench.main(["--images", str(image), "--crop", "16", "--steps", "2", "--methods", "slimmable",
                "--threads", "1", "--out", str(out), "--no-plot", "--quiet"])
    data = json.loads(out.read_text())
    assert data["settings"]["methods"] == ["slimmable"]
    assert len(data["mean"]["psnr"]["slimmable"]) == 4
    assert "paper slimmable" in data["table_markdown"]
