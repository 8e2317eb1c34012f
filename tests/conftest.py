from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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


# Numba compiles the grid and MLP kernels on first use and caches them beside their modules
# (nfcodec/fields/__pycache__). From a fresh checkout, every xdist worker and every `nfc`
# subprocess a test starts before the cache exists would compile them again (about a minute
# each): the controller compiles them once, in two processes at a time, before the workers start.
WARM_UP = [
    [["encode", "{tmp}/tiny.png", "-o", "{tmp}/tiny.nff", "--steps", "2", "--stages", "2", "--transform", "none", "-q"]],
    [["encode", str(ROOT / "samples" / "carphone_24f.mp4"), "--frames", "0:2", "--resize", "32x24", "-o", "{tmp}/clip.nff",
      "--steps", "2", "--stages", "2", "--transform", "none", "-q"],
     ["encode", str(ROOT / "samples" / "bunny_6k.obj"), "-o", "{tmp}/shape.nff", "--steps", "2", "--stages", "1", "-q"]],
]


def pytest_configure(config: pytest.Config) -> None:
    workers = getattr(config.option, "numprocesses", None)
    if hasattr(config, "workerinput") or not workers or any((ROOT / "nfcodec" / "fields" / "__pycache__").glob("*.nbi")):
        return  # a worker (the controller warmed the cache), one process, or a warm cache
    import imageio.v3 as iio

    with tempfile.TemporaryDirectory(prefix="nfc-warm-") as tmp:
        iio.imwrite(f"{tmp}/tiny.png", iio.imread(SAMPLE)[200:224, 300:332])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        lanes = [" && ".join(subprocess.list2cmdline([sys.executable, "-m", "nfcodec", *(a.format(tmp=tmp) for a in args)])
                             for args in lane) for lane in WARM_UP]
        for process in [subprocess.Popen(lane, shell=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        for lane in lanes]:
            process.wait()  # a failure here is the tests' to report
