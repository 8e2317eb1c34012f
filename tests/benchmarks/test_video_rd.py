"""Smoke test: video_rd encodes a clip, decodes it and matches a classic codec's size, tiny."""
from __future__ import annotations

import json
from pathlib import Path

import bench_support

CLIP = bench_support.REPO / "samples" / "carphone_24f.mp4"


def test_video_rd(tmp_path: Path) -> None:
    bench = bench_support.load_benchmark("video_rd")
    out = tmp_path / "vrd.json"
    result = bench.main([str(CLIP), "--frames", "3", "--width", "48", "--steps", "2", "--codecs", "x264", "--json-out", str(out)])
    saved = json.loads(out.read_text())
    row = saved["clips"][0]
    assert row["frames"] == 3 and row["size"] == [48, 40] and len(row["stages"]) == 4
    assert row["decode_fps"] > 0 and row["encode_s_per_frame"] > 0
    x264 = row["classic"]["x264"]
    assert x264["bytes"] <= row["bytes"] or not x264["fits"]
    assert 0 < x264["psnr"] < 100 and "x264" in bench.report(result["clips"])
