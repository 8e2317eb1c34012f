"""Which files a batch takes and where their outputs go."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from nfcodec.batch.inputs import discover
from nfcodec.errors import UsageError


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folders_are_searched_recursively_and_mirrored(tmp_path: Path):
    for name in ("a.png", "sub/b.jpg", "sub/deeper/c.obj", ".hidden.png", "sub/.git/x.png", "old.nff"):
        _touch(tmp_path / "in" / name)
    found = discover([str(tmp_path / "in")], tmp_path / "out")
    assert [str(i.relative) for i in found] == ["a.png", "sub/b.jpg", "sub/deeper/c.obj"]
    assert [str(i.output_relative) for i in found] == ["a.nff", "sub/b.nff", "sub/deeper/c.nff"]


def test_files_and_globs(tmp_path: Path):
    for name in ("x/1.png", "x/2.png", "x/y/3.png", "z.mp4"):
        _touch(tmp_path / name)
    found = discover([str(tmp_path / "x" / "**" / "*.png"), str(tmp_path / "z.mp4")], tmp_path / "out")
    assert [str(i.relative) for i in found] == ["1.png", "2.png", "y/3.png", "z.mp4"]


def test_an_outdir_inside_the_scanned_folder_is_skipped(tmp_path: Path):
    _touch(tmp_path / "a.png")
    _touch(tmp_path / "out" / "report.csv")
    assert [str(i.relative) for i in discover([str(tmp_path)], tmp_path / "out")] == ["a.png"]


def test_two_inputs_that_make_one_output_are_refused_before_any_work(tmp_path: Path):
    _touch(tmp_path / "photo.png")
    _touch(tmp_path / "photo.jpg")
    with pytest.raises(UsageError, match="both be written as photo.nff"):
        discover([str(tmp_path)], tmp_path / "out")
    _touch(tmp_path / "other" / "photo.png")
    with pytest.raises(UsageError, match="both"):
        discover([str(tmp_path / "photo.png"), str(tmp_path / "other" / "photo.png")], tmp_path / "out")


@pytest.mark.parametrize("argument, message", [("missing.png", "no such file"), ("*.nothing", "no input file matches"), ("empty", "holds no input files")])
def test_arguments_that_name_nothing_are_usage_errors(tmp_path: Path, argument: str, message: str):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=message):
        discover([str(tmp_path / argument)], tmp_path / "out")


def test_an_extensionless_input_gets_a_suffix(tmp_path: Path):
    _touch(tmp_path / "scan")
    (found,) = discover([str(tmp_path / "scan")], tmp_path / "out")
    assert found.output_relative == PurePosixPath("scan.nff")


def test_an_outdir_that_is_the_input_folder_keeps_the_inputs_but_not_the_reports(tmp_path: Path):
    for name in ("a.png", "sub/b.png", "report.json", "summary.md", "rd_image.svg", "sub/report.json"):
        _touch(tmp_path / name)
    found = [str(i.relative) for i in discover([str(tmp_path)], tmp_path)]
    assert found == ["a.png", "sub/b.png", "sub/report.json"]  # only OUTDIR's own top-level reports are ours
    assert [str(i.relative) for i in discover([str(tmp_path / "*.png")], tmp_path)] == ["a.png"]


def test_a_pattern_that_climbs_out_of_its_folder_is_refused(tmp_path: Path):
    _touch(tmp_path / "photos" / "x" / "a.png")
    _touch(tmp_path / "other" / "c.png")
    with pytest.raises(UsageError, match="outside"):
        discover([str(tmp_path / "photos" / "*" / ".." / ".." / "other" / "*.png")], tmp_path / "out")


def test_literal_names_win_over_patterns_and_a_file_named_twice_is_taken_once(tmp_path: Path):
    _touch(tmp_path / "img[1].png")
    _touch(tmp_path / "sub" / "b.png")
    assert [str(i.relative) for i in discover([str(tmp_path / "img[1].png")], tmp_path / "out")] == ["img[1].png"]
    found = discover([str(tmp_path / "sub" / "b.png"), str(tmp_path)], tmp_path / "out")
    assert sorted(str(i.relative) for i in found) == ["b.png", "img[1].png"]


def test_linked_folders_are_followed_once(tmp_path: Path):
    _touch(tmp_path / "real" / "a.png")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "linked").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "loop").symlink_to(tmp_path / "real")
    assert [str(i.relative) for i in discover([str(tmp_path / "in")], tmp_path / "out")] == ["linked/a.png"]
