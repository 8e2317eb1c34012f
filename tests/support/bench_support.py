"""Loading a benchmark script (benchmarks/ is not a package) for its smoke test."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "kodim23.png"


def load_benchmark(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # @dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def sample_data_dir(tmp_path: Path) -> Path:
    """A data directory holding a 256 x 256 crop of the bundled sample as `kodim23.png` (a third
    of the image's pixels: the smoke tests check that the scripts run, not what they measure)."""
    import imageio.v3 as iio

    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    iio.imwrite(folder / "kodim23.png", iio.imread(SAMPLE)[128:384, 256:512])
    return folder
