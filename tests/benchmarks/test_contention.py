"""Smoke test: the contention benchmark runs its three scenarios end to end on a small crop."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import bench_support


def test_contention(tmp_path: Path, sample_pixels: np.ndarray) -> None:
    import imageio.v3 as iio

    bench = bench_support.load_benchmark("contention")
    crop = tmp_path / "crop.png"
    iio.imwrite(crop, sample_pixels[200:232, 300:340])
    out = tmp_path / "contention.json"
    result = bench.main(["--input", str(crop), "--encode-args", "--widths 3,6 --steps 3", "--json-out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["files_identical"] is True and len(saved["files_sha256"]) == 5
    runs = saved["runs"]
    assert set(runs) == {"a_sequential", "b_concurrent", "c_beside_cpu_hog"}
    assert len(runs["b_concurrent"]["each_s"]) == 2 and runs["a_sequential"]["wall_s"] > 0
    ratios = saved["ratios"]
    assert abs(ratios["b_over_a"] - runs["b_concurrent"]["wall_s"] / runs["a_sequential"]["wall_s"]) < 1e-9
    assert "(c) one encode beside" in bench.report(result)
