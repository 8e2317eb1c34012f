"""The container must work where torch is not installed (formats/nff.md: numpy, msgpack, zstd)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from nff_support import BLOCK_TORCH, ROOT

def run_without_torch(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH + textwrap.dedent(code)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )


def test_container_reads_and_writes_without_torch():
    result = run_without_torch(
        """
        import numpy as np
        import nfcodec.container as c
        from nfcodec.container import fuzz_reader  # the fuzzer too
        try:
            import torch
        except ImportError:
            pass
        else:
            raise SystemExit("torch was not blocked")
        nff = c.read(open("formats/vectors/ok_siren_image.nff", "rb").read(), strict=True)
        assert nff.stage_tensors(2)["out.w"].shape == (1, 1)
        stage = c.encode_stage(c.StageData(1, [("a", np.ones(3), "q8")]))
        data = c.assemble(modality="test", signal={}, transform={"id": 0, "name": "identity"},
                          field_info={"arch": "test", "config": {}}, stages=[stage])
        assert c.read(data, strict=True).complete
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules if sys.modules[m] is not None)
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_make_vectors_runs_without_torch():
    result = run_without_torch(
        """
        import runpy
        sys.argv = ["make_vectors.py", "--check"]
        try:
            runpy.run_path("formats/vectors/make_vectors.py", run_name="__main__")
        except SystemExit as exc:
            raise SystemExit(exc.code)
        """
    )
    assert result.returncode == 0, result.stderr
