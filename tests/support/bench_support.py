"""Loading a benchmark script (benchmarks/ is not a package) for its smoke test."""
from __future__ import annotations

import importlib.util
import shutil
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
    """A data directory holding the bundled sample as `kodim23.png`."""
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    shutil.copy(SAMPLE, folder / "kodim23.png")
    return folder
