"""Smoke test: video_memory makes UVG-named raw clips, encodes and decodes them in child
processes and reports their peak memory."""
from __future__ import annotations

import json
from pathlib import Path

import bench_support


def test_video_memory(tmp_path: Path) -> None:
    bench = bench_support.load_benchmark("video_memory")
    out = tmp_path / "vm.json"
    bench.main(["--frames", "2,4", "--size", "64x48", "--steps", "1", "--json-out", str(out)])
    runs = json.loads(out.read_text())["runs"]
    assert [r["frames"] for r in runs] == [2, 4]
    for r in runs:
        assert r["decoded_bytes"] == r["frames"] * 64 * 48 * 3 // 2  # every frame back, as raw 4:2:0
        assert 50 < r["encode_peak_mib"] < 4096 and 50 < r["decode_peak_mib"] < 4096
