"""rd_kodak: the Bjontegaard delta-rate on curves with a known answer, and a tiny run (the
bundled sample, classic codecs and our stages) that writes its JSON."""
from __future__ import annotations

import json
import shutil
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
    data = tmp_path / "kodak"
    data.mkdir()
    shutil.copy(bench_support.SAMPLE, data / "kodim23.png")
    monkeypatch.setattr(bench, "ours", lambda path: [(0.1, 25.0), (0.5, 30.0), (1.5, 35.0), (3.0, 39.0)])
    out = tmp_path / "rd.json"
    bench.main(["--data-dir", str(data), "--out", str(out)])
    data = json.loads(out.read_text())
    assert set(data["curves"]) == {"jpeg", "webp", "avif", "jxl", "nfc"}
    for name, quality in bench.QUALITIES.items():
        points = data["curves"][name]
        assert len(points) == len(quality) and all(0 < bpp < 24 and 20 < p < 60 for bpp, p in points)
    assert data["bd_rate_percent"]["jpeg"] is not None
