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


# Test files that take a minute or more on 2 cores, run first: with one worker per core
# (pytest-xdist, a file to a worker) the suite then ends on short files, not on a long one
# started last while the other worker idles.
LONGEST_FIRST = ("test_determinism.py", "benchmarks/test_sdf_benchmarks.py", "batch/test_batch.py",
                 "faults/test_kill_faults.py", "benchmarks/test_contention.py", "benchmarks/test_transform_and_streaming_benchmarks.py",
                 "benchmarks/test_rd_kodak.py", "modalities/test_bad_signals.py", "test_codec_goals.py", "batch/test_batch_faults.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        return next((i for i, name in enumerate(LONGEST_FIRST) if path.endswith("tests/" + name)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the order within a file, and of the other files, is kept
