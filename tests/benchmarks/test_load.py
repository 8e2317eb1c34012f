"""benchmarks/load.py at a small size: 32 remote decodes at once over loopback, twice, and a
batch of 20 files: nothing wrong or lost, memory flat across the waves."""
from __future__ import annotations

import json
from pathlib import Path

from bench_support import load_benchmark


def test_concurrent_remote_decodes_and_a_batch_lose_nothing(tmp_path: Path):
    bench = load_benchmark("load")
    result = bench.main(["--concurrent", "32", "--waves", "3", "--served", "2", "--files", "20", "--steps", "2",
                         "--out", str(tmp_path / "load.json")])
    remote = result["remote"]
    assert remote["decodes"] == 96 and remote["wrong"] == 0 and remote["errors"] == []
    assert remote["rss_growth_mib"] < 64, remote["waves"]  # a leak of even 1 MiB per decode would show
    for batch in result["batches"]:
        assert batch["exit_status"] == 0 and batch["ok"] == batch["complete_files"] == batch["files"] and batch["failed"] == 0
    assert json.loads((tmp_path / "load.json").read_text())["table_markdown"] == result["table_markdown"]
