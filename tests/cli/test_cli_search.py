"""`nfc search` and the search options of `nfc encode`."""
from __future__ import annotations

import json
from pathlib import Path

from nfcodec.errors import ExitStatus

from cli_support import assert_one_line_error, run


def test_search_json_lists_rows_and_one_choice(small_png: Path):
    result = run("search", str(small_png), "--json", "-q", "--probe-side", "16")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    rows = out["search"]
    assert rows and all({"transform", "lr", "steps", "psnr", "chosen"} <= set(r) for r in rows)
    assert sum(r["chosen"] for r in rows) == 1
    assert out["transform"] == next(r["transform"] for r in rows if r["chosen"])
    assert "identity" in {r["transform"] for r in rows}


def test_search_table_and_keep_interpolation(small_png: Path):
    result = run("search", str(small_png), "-q", "--probe-side", "16", "--transform", "rpp,gamma2", "--keep-interpolation")
    assert result.exit_code == 0, result.output
    assert "rpp" not in result.stdout.split("chosen:")[0] and "chosen:" in result.stdout


def test_search_errors_are_one_line(small_png: Path, tmp_path: Path):
    assert_one_line_error(run("search", str(small_png), "--transform", "rpp"), ExitStatus.USAGE_ERROR, "at least two")
    assert_one_line_error(run("search", str(small_png), "--transform", "rpp,nope"), ExitStatus.USAGE_ERROR, "unknown transform")
    assert_one_line_error(run("search", str(tmp_path / "missing.png")), ExitStatus.DATA_ERROR, "no such file")


def test_encode_auto_reports_the_search(small_png: Path, tmp_path: Path):
    out = tmp_path / "auto.nff"
    result = run("encode", str(small_png), "-o", str(out), "--json", "--steps", "4", "--stages", "2", "--probe-side", "16", "-q")
    assert result.exit_code == 0, result.output
    js = json.loads(result.stdout)
    assert js["search"] and js["search_summary"]["transform"] == js["transform"]["preset"]
    info = json.loads(run("info", str(out), "--json").stdout)
    assert info["search_summary"]["transform"] == js["transform"]["preset"]
