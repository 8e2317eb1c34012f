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


@pytest.mark.parametrize("argument, message", [("missing.png", "no such file"), ("*.nothing", "no file matches"), ("empty", "holds no files")])
def test_arguments_that_name_nothing_are_usage_errors(tmp_path: Path, argument: str, message: str):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=message):
        discover([str(tmp_path / argument)], tmp_path / "out")


def test_an_extensionless_input_gets_a_suffix(tmp_path: Path):
    _touch(tmp_path / "scan")
    (found,) = discover([str(tmp_path / "scan")], tmp_path / "out")
    assert found.output_relative == PurePosixPath("scan.nff")
