"""Shared helpers of the container tests (imported by name: this folder is on sys.path)."""
from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import numpy as np

from nfcodec import container

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "formats" / "vectors"
SPEC = ROOT / "formats" / "nff.md"

# Prepended to `python -c` code: makes `import torch` (and any torch submodule) fail, as on a
# machine without torch.
BLOCK_TORCH = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"torch is blocked in this test ({name})")
            return None

    sys.meta_path.insert(0, NoTorch())
    sys.modules.pop("torch", None)
    """
)


def load_make_vectors() -> ModuleType:
    """formats/vectors/make_vectors.py is a script, not a package module: import it by path."""
    name = "nff_make_vectors"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, VECTORS / "make_vectors.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def make_file(compression: str = "zstd", dtypes: tuple[str, ...] = ("f32", "q8"), extra: bool = True) -> bytes:
    """A valid file of len(dtypes) stages, each holding two small tensors, plus an ancillary chunk."""
    rng = np.random.default_rng(7)
    stages = [
        container.encode_stage(
            container.StageData(k + 1, [("w", rng.normal(size=(k + 1, 3)), dtype), ("b", rng.normal(size=(k + 1,)), "f16")]),
            compression,
        )
        for k, dtype in enumerate(dtypes)
    ]
    return container.assemble(
        modality="test",
        signal={"n": 1},
        transform={"id": 0, "name": "identity", "params": {}},
        field_info={"arch": "test", "id": 9, "config": {"k": 1.5}},
        stages=stages,
        compression=compression,
        extra_chunks=[("teXt", b"note")] if extra else (),
    )
