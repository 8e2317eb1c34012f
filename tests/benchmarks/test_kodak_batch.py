"""Smoke test of benchmarks/kodak_batch.py on two small images (the committed run is Kodak)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import load_benchmark

pytest.importorskip("matplotlib")


def test_kodak_batch_writes_its_results(tmp_path: Path, sample_pixels):
    import imageio.v3 as iio

    data = tmp_path / "data"
    data.mkdir()
    iio.imwrite(data / "a.png", sample_pixels[:32, :48])
    iio.imwrite(data / "b.png", sample_pixels[100:132, 200:248])
    bench = load_benchmark("kodak_batch")
    result = bench.main(["--data-dir", str(data), "--out", str(tmp_path / "res"), "--", "--steps", "4", "--stages", "2", "--transform", "none"])
    saved = json.loads((tmp_path / "res" / "kodak_batch.json").read_text())
    assert saved["summary"]["ok"] == 2 and saved["table_markdown"] == result["table_markdown"]
    assert "nfc width 2" in saved["table_markdown"] and "JPEG XL dB" in saved["table_markdown"]
    assert all((tmp_path / "res" / name).exists() for name in bench.COPIED)
