"""Smoke test: image_memory makes scaled-up noisy PNGs, encodes (and decodes) them in child
processes and reports their peak memory and its slope per pixel."""
from __future__ import annotations

import json
from pathlib import Path

import bench_support


def test_image_memory(tmp_path: Path) -> None:
    bench = bench_support.load_benchmark("image_memory")
    out = tmp_path / "im.json"
    bench.main(["--megapixels", "0.002,0.004", "--transforms", "none", "--steps", "1", "--json-out", str(out)])
    result = json.loads(out.read_text())
    runs = result["runs"]
    assert [r["transform"] for r in runs] == ["none", "none"]
    assert runs[0]["pixels"] < runs[1]["pixels"] and abs(runs[1]["pixels"] - 4000) < 200
    for r in runs:
        assert 50 < r["encode_peak_mib"] < 4096 and 50 < r["decode_peak_mib"] < 4096 and r["nff_bytes"] > 0
        assert r["encode_bytes_per_pixel"] == r["encode_peak_mib"] * 2**20 / r["pixels"]
    assert isinstance(result["encode_slope_bytes_per_pixel"]["none"], float)
    assert result["meta"]["command"].startswith("python")
