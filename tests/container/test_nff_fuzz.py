"""The reader fuzzer: a short run finds nothing, and a planted bug is found and reported."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nfcodec.container import fuzz_reader
from nfcodec.errors import NffError

from nff_support import BLOCK_TORCH, ROOT



def test_short_fuzz_run_finds_nothing(tmp_path):
    """~5 s of the builtin fuzzer, without torch, as `python -m` would run it."""
    code = BLOCK_TORCH + (
        "import runpy\n"
        f"sys.argv = ['fuzz_reader', '--seconds', '5', '--seed', '1', '--findings', {str(tmp_path)!r}]\n"
        "runpy.run_module('nfcodec.container.fuzz_reader', run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "no findings" in result.stderr
    assert not list(tmp_path.iterdir())


def test_a_planted_bug_is_found_and_written_as_hex(tmp_path):
    def buggy(data: bytes) -> str:
        label = fuzz_reader.check(data)
        # A reader bug (not an NffError) on some truncated files that no seed is.
        if label.startswith("ok") and "|TruncatedFile" in label and len(data) % 7 == 3:
            raise KeyError("planted")
        return label

    messages: list[str] = []
    status = fuzz_reader.fuzz(30, seed=5, findings=tmp_path, target=buggy, log=messages.append)
    assert status == 1 and "KeyError" in messages[-1]
    (finding,) = tmp_path.glob("*.hex")
    data = bytes.fromhex(finding.read_text().strip())
    assert len(data) % 7 == 3 and fuzz_reader.check(data).startswith("ok")
    assert "KeyError: 'planted'" in finding.with_suffix(".txt").read_text()


def test_nff_errors_are_not_findings(tmp_path):
    def always_nff_error(data: bytes) -> None:
        raise NffError("fine")

    assert fuzz_reader.fuzz(0.2, findings=tmp_path, target=always_nff_error, log=lambda s: None) == 0


def test_mutations_are_deterministic_and_bounded():
    import random

    seeds = fuzz_reader.load_seeds(None)
    runs = []
    for _ in range(2):
        rng = random.Random(11)
        runs.append([fuzz_reader.mutate(rng.choice(seeds), rng, seeds) for _ in range(300)])
    assert runs[0] == runs[1]
    assert all(len(m) <= 1 << 18 for m in runs[0])


def test_reproduce_option(tmp_path, capsys):
    path = tmp_path / "case.hex"
    path.write_text((Path(ROOT) / "formats/vectors/err_crc_stage.nff").read_bytes().hex() + "\n")
    assert fuzz_reader.main(["--reproduce", str(path)]) == 0
    assert "no finding" in capsys.readouterr().out


def test_built_seeds_are_valid():
    from nfcodec import container

    for data in fuzz_reader.built_seeds():
        assert container.read(data, strict=True).complete
