"""Smoke tests: transform_speedup, search_payoff and streaming run end to end on the bundled
sample with tiny budgets and write their JSON (and the numbers in it are sane)."""
from __future__ import annotations

import json
from pathlib import Path

import bench_support


def test_transform_speedup(tmp_path: Path) -> None:
    bench = bench_support.load_benchmark("transform_speedup")
    data = bench_support.sample_data_dir(tmp_path)
    out = tmp_path / "ts.json"
    result = bench.main(["--field", "siren", "--images", "kodim23", "--cap", "6", "--target", "12", "--data-dir", str(data), "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["settings"]["target"] == 12 and saved["per_image"][0]["image"] == "kodim23"
    steps = saved["per_image"][0]["transforms"]
    assert set(steps) == set(bench.TRANSFORMS)
    assert all(v["steps"] is None or 0 <= v["steps"] <= 6 for v in steps.values())
    assert "identity" in result["summary"] and "## siren" in bench.report({"siren": saved})


def test_search_payoff(tmp_path: Path) -> None:
    bench = bench_support.load_benchmark("search_payoff")
    data = bench_support.sample_data_dir(tmp_path)
    out = tmp_path / "sp.json"
    bench.main(["--images", "kodim23", "--steps", "2", "--probe-side", "32", "--repeats", "2", "--data-dir", str(data), "--out", str(out)])
    saved = json.loads(out.read_text())
    row = saved["per_image"][0]
    assert row["none"]["seconds"] > 0 and row["auto"]["seconds"] > 0
    for side in ("none", "auto"):  # two runs each; the lower middle one (of two: the faster) counts
        assert len(row[side]["seconds_all"]) == 2 and row[side]["seconds"] == min(row[side]["seconds_all"])
    low, high = saved["summary"]["none_over_reference_range"]
    assert 0 < low <= high
    assert abs(row["ratio"] - row["auto"]["seconds"] / row["none"]["seconds"]) < 1e-9
    assert row["quality"] == row["reference"]["train_psnr"] and len(row["none"]["steps"]) == 4
    assert isinstance(row["reached"]["none"], bool) and isinstance(row["reached"]["auto"], bool)
    sweep = row["lr_sweep"]
    assert set(sweep["psnr_by_lr"]) == {"0.005", "0.01", "0.02"} and sweep["psnr_by_lr"]["0.01"] == row["reference"]["psnr"]
    assert sweep["best_lr"] in (0.005, 0.01, 0.02)
    assert (sweep["auto_lr"] is None) or sweep["auto_lr_psnr"] == sweep["psnr_by_lr"][f"{sweep['auto_lr']:g}"]
    assert saved["summary"]["lr_sweep"]["images"] == 1
    rule = saved["summary"]["rate_rule"]
    (scored,) = rule["images"]
    assert scored["image"] == "kodim23" and scored["raised"] == (scored["gradient"] >= rule["threshold"])
    assert scored["gain_2x_db"] == sweep["psnr_by_lr"]["0.02"] - sweep["psnr_by_lr"]["0.01"]
    # the rule alone, re-scored from the saved run without encoding
    assert bench.main(["--rate-rule", str(out), "--data-dir", str(data)])["images"] == rule["images"]
    check = saved["predictor"][0]
    assert check["hit"] == (check["predictor_first"] == check["measured_winner"])
    assert saved["summary"]["predictor_checked"] == 1


def test_streaming(tmp_path: Path) -> None:
    bench = bench_support.load_benchmark("streaming")
    data = bench_support.sample_data_dir(tmp_path)
    out = tmp_path / "st.json"
    bench.main(["--images", "kodim23", "--repeats", "1", "--steps", "2", "--data-dir", str(data),
                "--nff-dir", str(tmp_path / "nff"), "--out", str(out)])
    saved = json.loads(out.read_text())
    row = saved["per_image"][0]
    fractions = [w["fraction"] for w in row["widths"]]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0
    assert row["requests_per_width"] in (1, 2)  # 1 when header + stage 1 fit in the first 4 KiB
    assert 0 < row["jpeg_first_scan_bytes"] < row["jpeg_bytes"]


def test_jpeg_first_scan_end_skips_stuffed_bytes_and_restart_markers() -> None:
    bench = bench_support.load_benchmark("streaming")
    sos = b"\xff\xda\x00\x04ab"
    data = b"\xff\xd8" + sos + b"\x12\xff\x00\x34\xff\xd3\x56" + b"\xff\xc4rest" + sos + b"\xff\xd9"
    assert bench.jpeg_first_scan_end(data) == data.index(b"\xff\xc4")
