"""Smoke tests: temporal_growing (the paper's Table 4 protocol) and video_step run end to end on
the bundled clip, tiny, and write what their results pages are made from."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench_support


def test_temporal_growing(tmp_path: Path) -> None:
    bench = bench_support.load_benchmark("temporal_growing")
    out = tmp_path / "tg.json"
    bench.main(["--frames", "6", "--resize", "32x18", "--steps", "2", "--siren-scale", "0.05", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["stage_frames"] == [2, 4, 6]
    for arch in ("grid", "siren"):
        methods = data["results"][arch]
        for method in ("progressive", "individual", "slimmable"):
            assert len(methods[method]["psnr"]) == 3 and all(5 < p < 60 for p in methods[method]["psnr"])
        # sub-network 1 of the progressive field is an individually trained first stage: same seed, same result
        assert methods["progressive"]["psnr"][0] == pytest.approx(methods["individual"]["psnr"][0], abs=1e-9)
    assert data["results"]["siren"]["widths"]["progressive"] == [15, 24, 31]


def test_siren_widths_match_parameter_counts() -> None:
    bench = bench_support.load_benchmark("temporal_growing")
    progressive, individual = bench.siren_widths(1.0)
    assert progressive == (296, 479, 619)
    from nfcodec.fields.siren import progressive_params

    # the paper's sub-network sizes (../shared/notes/streamable_fields.md)
    assert progressive_params(progressive, 3, 3, 5) == [441_635, 882_116, 1_317_096]
    assert individual[0] == 296 and individual[0] < individual[1] < individual[2] < 619


def test_video_step(tmp_path: Path, monkeypatch) -> None:
    bench = bench_support.load_benchmark("video_step")
    monkeypatch.setattr(bench, "IMAGE_SIDE", 64)
    monkeypatch.setattr(bench, "CLIP_SHAPE", (12, 36, 64))
    out = tmp_path / "vs.json"
    bench.main(["--repeats", "1", "--out", str(out)])
    results = json.loads(out.read_text())["results"]
    assert results["image"]["vs_image_step"] == 1.0
    assert results["frames"]["points"] == 8 * (64 * 64 // (8 * 64)) * 64
    assert all(results[k]["us_per_point"] > 0 for k in ("frames", "scattered", "sampler"))
