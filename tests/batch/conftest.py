from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from batch_support import SAMPLES, make_images


@pytest.fixture()
def image_folder(tmp_path: Path, sample_pixels: np.ndarray) -> Path:
    return make_images(tmp_path / "in", sample_pixels, 3)


@pytest.fixture()
def mixed_folder(tmp_path: Path, sample_pixels: np.ndarray) -> Path:
    """Two images, a clip, a mesh and one junk file."""
    folder = make_images(tmp_path / "mixed", sample_pixels, 2)
    shutil.copy(SAMPLES / "carphone_24f.mp4", folder / "clip.mp4")
    shutil.copy(SAMPLES / "bunny_6k.obj", folder / "bunny.obj")
    (folder / "notes.txt").write_text("not a signal\n")
    return folder
