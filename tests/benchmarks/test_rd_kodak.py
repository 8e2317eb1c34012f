"""rd_kodak: the Bjontegaard delta-rate on curves with a known answer, and a tiny run (the
bundled sample, classic codecs and our stages) that writes its JSON."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import bench_support


def test_bd_rate_of_a_curve_needing_twice_the_bits_is_plus_100_percent() -> None:
    bench = bench_support.load_benchmark("rd_kodak")
    anchor = [(r, 30 + 6 * i) for i, r in enumerate((0.25, 0.5, 1.0, 2.0, 4.0))]
    doubled = [(2 * r, p) for r, p in anchor]
    assert bench.bd_rate(anchor, doubled) == pytest.approx(100.0, abs=1e-6)
    assert bench.bd_rate(doubled, anchor) == pytest.approx(-50.0, abs=1e-6)
    assert bench.bd_rate(anchor[:3], doubled) is None  # too few points for a cubic


def test_rd_kodak_runs_every_codec_and_ours(tmp_path: Path, monkeypatch) -> None:
    bench = bench_support.load_benchmark("rd_kodak")
    data = bench_support.sample_data_dir(tmp_path)
    monkeypatch.setattr(bench, "RATES", (0.5, 1.0))
    monkeypatch.setattr(bench, "PROGRESSIVE", (1.0, 2))
    out = tmp_path / "rd.json"
    bench.main(["--data-dir", str(data), "--out", str(out), "--steps", "8"])
    data = json.loads(out.read_text())
    assert set(data["curves"]) == {"jpeg", "webp", "avif", "jxl", "nfc", "nfc_progressive"}
    for name, quality in bench.QUALITIES.items():
        points = data["curves"][name]
        assert len(points) == len(quality) and all(0 < bpp < 24 and 20 < p < 60 for bpp, p in points)
    ours = data["curves"]["nfc"]
    assert [round(b, 1) for b, _ in ours] == [0.5, 1.0] and all(0.95 * r <= b <= r for (b, _), r in zip(ours, (0.5, 1.0)))
    assert len(data["curves"]["nfc_progressive"]) == 2 and data["seconds"]["decode_mean"]
    if importlib.util.find_spec("matplotlib") is not None:  # the plot extra
        assert data["plots"] == ["rd.png", "rd.svg"] and out.with_suffix(".svg").stat().st_size > 0
    assert any(row[0].startswith("beat JPEG") for row in data["targets"])
