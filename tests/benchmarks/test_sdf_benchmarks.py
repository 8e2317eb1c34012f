"""Smoke tests: sdf_growing and sdf_vs_draco run end to end on the bundled bunny, tiny."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench_support
from nfcodec.modalities import shape_metrics


@pytest.fixture(autouse=True)
def fewer_reference_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """Smoke runs measure on 20k surface points a side, not 100k: the KD-tree queries of the
    1-step SIREN's scattered surface were most of these tests' minute."""
    for name, count in (("POINTS", 20_000), ("DEEPSDF_POINTS", 6_000), ("IOU_POINTS", 20_000)):
        monkeypatch.setattr(shape_metrics, name, count)


def test_sdf_growing(tmp_path: Path) -> None:
    bench = bench_support.load_benchmark("sdf_growing")
    out = tmp_path / "sg.json"
    # grid steps enough for a surface near the mesh: a garbage surface makes the Chamfer KD-tree
    # queries 10x slower (their nearest points lie far away)
    bench.main(["--steps", "20", "--siren-steps", "1", "--siren-widths", "4,8,12", "--siren-batch-size", "512", "--out", str(out)])
    results = json.loads(out.read_text())["results"]
    assert [(r["mesh"], r["arch"]) for r in results] == [("bunny_6k", "grid"), ("bunny_6k", "siren")]
    for r in results:
        assert len(r["stages"]) == 3 and all(s["chamfer_l1"] > 0 for s in r["stages"])
        assert [s["bytes"] for s in r["stages"]] == sorted(s["bytes"] for s in r["stages"])


def test_sdf_vs_draco(tmp_path: Path) -> None:
    bench = bench_support.load_benchmark("sdf_vs_draco")
    out = tmp_path / "sd.json"
    bench.main(["--steps", "20", "--stages", "2", "--resolution", "32", "--decode-resolutions", "24", "--out", str(out)])
    (entry,) = json.loads(out.read_text())["results"]
    assert [d["bits"] for d in entry["draco"]] == list(bench.DRACO_BITS)
    # more quantisation bits: more bytes, never a worse Chamfer beyond sampling noise
    sizes = [d["bytes"] for d in entry["draco"]]
    assert sizes == sorted(sizes) and entry["draco"][-1]["chamfer_l1"] < 0.01
    assert len(entry["ours"]) == 2 and entry["decode"][0]["resolution"] == 24 and entry["decode"][0]["peak_mib"] > 10
