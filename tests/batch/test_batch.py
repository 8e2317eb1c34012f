"""`nfc batch` end to end on the local process pool: mixed inputs, reports, resuming, failures."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cli_support import assert_one_line_error, run
from batch_support import FAST, read_report

from nfcodec.batch.journal import BatchLock
from nfcodec.batch.report import without_timings
from nfcodec.codec import decode
from nfcodec.errors import ExitStatus


def test_a_mixed_folder_gives_one_report_with_the_junk_file_as_a_failure(mixed_folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = run("batch", str(mixed_folder), "-o", str(out), *FAST, "--frames", "0:3", "--resize", "48x40", "--json")
    assert result.exit_code == int(ExitStatus.DATA_ERROR), result.output  # one input failed
    assert "1 of 5 inputs failed" in result.stderr
    report = read_report(out)
    rows = {r["input"]: r for r in report["inputs"]}
    assert sorted(rows) == ["bunny.obj", "clip.mp4", "img00.png", "img01.png", "notes.txt"]
    assert {k: r["modality"] for k, r in rows.items() if r["status"] == "ok"} == \
        {"bunny.obj": "shape", "clip.mp4": "video", "img00.png": "image", "img01.png": "image"}
    assert rows["notes.txt"]["status"] == "failed" and "cannot" in rows["notes.txt"]["error"]
    assert rows["clip.mp4"]["rate_unit"] == "bpp" and rows["bunny.obj"]["headline"] == "chamfer_l1"
    for name, row in rows.items():
        if row["status"] != "ok":
            continue
        # the report describes the file on disk: bytes, stages, quality of the last width
        decoded = decode(out / row["output"], tmp_path / f"check{Path(name).suffix}", width=1,
                         options={"resolution": 24} if name.endswith(".obj") else {})  # a coarse mesh: the check is the file
        assert decoded.stages_total == len(row["stages"]) == 2
        assert (out / row["output"]).stat().st_size == row["bytes"] >= row["stages"][-1]["bytes"] > row["stages"][0]["bytes"]
        assert len(row["input_sha256"]) == 64 and row["options_key"] and row["transform"]
    assert json.loads(result.stdout)["summary"]["failed"] == 1
    # the clip read only its 3 frames (the input options applied to the clip alone)
    assert rows["clip.mp4"]["stages"][-1]["quality"]["frames"] == 3
    with open(out / "report.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["input"] for r in table] == sorted(rows) and table[-1]["status"] == "failed"
    summary = (out / "summary.md").read_text()
    assert "4 of 5 inputs encoded" in summary and "notes.txt" in summary and "## shape: 1 inputs" in summary


def test_a_rerun_reuses_finished_files_and_redoes_what_changed(image_folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert run("batch", str(image_folder), "-o", str(out), *FAST).exit_code == 0
    first = read_report(out)
    assert first["run"]["encoded"] == 3 and first["run"]["reused"] == 0
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.nff")}

    assert run("batch", str(image_folder), "-o", str(out), *FAST).exit_code == 0
    second = read_report(out)
    assert second["run"]["encoded"] == 0 and second["run"]["reused"] == 3
    assert without_timings(second) == without_timings(first)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.nff")} == stamps  # not rewritten

    # a changed input, a damaged output: exactly those are redone
    changed = image_folder / "img00.png"
    changed.write_bytes((image_folder / "img01.png").read_bytes())
    damaged = out / "nested" / "img02.nff"
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\0")
    assert run("batch", str(image_folder), "-o", str(out), *FAST).exit_code == 0
    third = read_report(out)
    assert third["run"]["encoded"] == 2 and third["run"]["reused"] == 1

    # other options make other files: everything is redone
    assert run("batch", str(image_folder), "-o", str(out), *FAST, "--seed", "1").exit_code == 0
    assert read_report(out)["run"]["encoded"] == 3


def test_a_torn_journal_line_is_cut_and_the_rest_reused(image_folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert run("batch", str(image_folder), "-o", str(out), *FAST).exit_code == 0
    journal = out / ".nfc-batch" / "journal.jsonl"
    with open(journal, "ab") as fh:
        fh.write(b'{"input": "img00.png", "status": "o')  # killed mid-append
    assert run("batch", str(image_folder), "-o", str(out), *FAST).exit_code == 0
    assert read_report(out)["run"]["reused"] == 3
    assert journal.read_bytes().endswith(b"\n") and journal.read_bytes().count(b"\n") == 3


def test_a_second_batch_into_the_same_folder_is_refused(image_folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    lock = BatchLock(out)
    try:
        result = run("batch", str(image_folder), "-o", str(out), *FAST)
        assert_one_line_error(result, ExitStatus.USAGE_ERROR, "another nfc batch is writing to")
    finally:
        lock.release()


def test_temporaries_of_a_killed_run_are_removed(image_folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    (out / "nested").mkdir(parents=True)
    stale = [out / ".img00.nff.ab12cd34.part.nff", out / "nested" / ".report.json.x_y_z_12.part.json"]
    for path in stale:
        path.write_bytes(b"partial")
    keep = out / ".my.notes"
    keep.write_text("mine")
    assert run("batch", str(image_folder), "-o", str(out), *FAST).exit_code == 0
    assert not any(p.exists() for p in stale) and keep.exists()


def test_an_unwritable_output_folder_is_one_clear_error(image_folder: Path, tmp_path: Path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        if (parent / "probe").exists() or _writable(parent):
            pytest.skip("running as a user that ignores permissions")
        result = run("batch", str(image_folder), "-o", str(parent / "out"), *FAST)
        assert_one_line_error(result, ExitStatus.USAGE_ERROR, "cannot write to the output folder")
    finally:
        parent.chmod(0o755)


def _writable(folder: Path) -> bool:
    try:
        (folder / "probe").write_text("x")
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


def test_bad_options_fail_before_any_work(image_folder: Path, tmp_path: Path):
    result = run("batch", str(image_folder), "-o", str(tmp_path / "out"), "--scheduler", "nowhere")
    assert result.exit_code == 2 and "local-dask" in result.output
    result = run("batch", str(image_folder), "-o", str(tmp_path / "out"), "--transform", "nonsense")
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists()
    assert_one_line_error(run("batch", str(tmp_path / "absent"), "-o", str(tmp_path / "out")), ExitStatus.USAGE_ERROR, "no such file")


def test_help_teaches_the_engines(tmp_path: Path):
    result = run("batch", "--help")
    assert result.exit_code == 0
    for fragment in ("Resumable", "--scheduler", "dask scheduler", "dask worker", "--workers", "--compare", "--bpp"):
        assert fragment in result.output
