"""Smoke test: the default-configuration benchmark runs end to end on the sample and restores the
encoder's defaults."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import bench_support
from nfcodec import presets


def test_default_config_runs_candidates_and_restores_defaults(tmp_path: Path) -> None:
    bench = bench_support.load_benchmark("default_config")
    before = copy.deepcopy(presets.ARCH_DEFAULTS)
    out = tmp_path / "dc.json"
    result = bench.main(["--images", "kodim23", "--candidates", "steps100", "T2^13", "--steps-scale", "0.02",
                         "--data-dir", str(bench_support.sample_data_dir(tmp_path)), "--out", str(out)])
    assert presets.ARCH_DEFAULTS == before
    saved = json.loads(out.read_text())
    (image,) = saved["per_image"]
    assert list(image["candidates"]) == ["default", "steps100", "T2^13"]
    assert image["candidates"]["default"]["steps"] == 3 and image["candidates"]["steps100"]["steps"] == 2
    # a smaller table stores fewer bytes
    assert image["candidates"]["T2^13"]["bpp"] < image["candidates"]["default"]["bpp"]
    summary = saved["summary"]
    assert summary["default"]["db_vs_default"] == 0 and summary["default"]["time_vs_default"] == 1
    assert "| steps100 |" in result["table_markdown"]


def test_grid_defaults_are_restored_after_an_error() -> None:
    bench = bench_support.load_benchmark("default_config")
    before = copy.deepcopy(presets.ARCH_DEFAULTS["grid"])
    with pytest.raises(RuntimeError):
        with bench.grid_defaults({"mlp_width": 7}):
            assert presets.ARCH_DEFAULTS["grid"]["mlp_width"] == 7
            raise RuntimeError("boom")
    assert presets.ARCH_DEFAULTS["grid"] == before
