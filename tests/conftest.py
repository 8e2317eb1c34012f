from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# helpers several test folders share (cli_support, http_servers), importable by name
sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
SAMPLE = ROOT / "samples" / "kodim23.png"


@pytest.fixture(scope="session")
def sample_pixels() -> np.ndarray:
    import imageio.v3 as iio

    return np.asarray(iio.imread(SAMPLE))


@pytest.fixture()
def small_png(tmp_path: Path, sample_pixels: np.ndarray) -> Path:
    """A 24x32 crop of the bundled Kodak sample (real texture, tiny cost)."""
    import imageio.v3 as iio

    path = tmp_path / "crop.png"
    iio.imwrite(path, sample_pixels[200:224, 300:332])
    return path
