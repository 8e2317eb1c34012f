"""A mutation fuzzer for the `.nff` reader: only `NffError` may escape it (formats/nff.md).

    python -m nfcodec.container.fuzz_reader --seconds 60 [--seed 1] [--findings fuzz-findings]
    python -m nfcodec.container.fuzz_reader --reproduce fuzz-findings/finding-1a2b3c4d.hex
    python -m nfcodec.container.fuzz_reader --engine atheris --seconds 60   # if atheris is installed

Seeds are the conformance vectors in formats/vectors (or, outside a checkout, files built with
the writer). Each input goes through everything a decoder does with untrusted bytes at the
container level: `read` in both modes, `stage_tensors` for every available stage (within a
work budget, below), `transform_data`, `header_bytes_needed`. Any other exception, a broken
invariant (an AssertionError), an input slower than --max-seconds or memory beyond
--max-rss-mb is a finding: its bytes are written as hex under --findings and the process
exits 1. Dependency-free (stdlib + the container's own dependencies); mutations are
structure-aware (the fuzz_mutators package). `--engine atheris` runs the same target and mutator under
libFuzzer's coverage guidance (`atheris_fuzz`, which tools/fuzz_nff.py also uses for the
whole decoder: the reader, the field, the modalities and rendering).

Work budget: a stage's tensors are decoded while the bytes decoded for the input (each
stage's decompressed payload plus its tensors as binary32) stay within `budget`
(DECODE_BUDGET, 32 MiB); a stage beyond it is only read (framing, CRC), and NXFM data above
TRANSFORM_DATA_BUDGET bytes is not decompressed. Every decode costs time and
memory linear in what the header declares, which the limits cap (formats/nff.md, "Limits");
the budget keeps each fuzz input well under a second, and the tests check the limits at full
size (tests/container/test_fuzz_corpus.py).
"""
from __future__ import annotations

import argparse
import hashlib
import random
import re
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import NffError
from .chunks import SIGNATURE
from .fuzz_mutators import mutate
from .reader import header_bytes_needed, read

REPO_VECTORS = Path(__file__).resolve().parents[2] / "formats" / "vectors"
DECODE_BUDGET = 1 << 25  # bytes decoded per input: stage payloads plus their tensors as binary32
TRANSFORM_DATA_BUDGET = 1 << 24  # bytes of NXFM data decompressed per input


def invariant(condition: bool, what: object) -> None:
    # Not `assert`: the checks must survive `python -O`.
    if not condition:
        raise AssertionError(f"invariant broken: {what}")


def check(data: bytes, budget: int = DECODE_BUDGET) -> str:
    """The fuzz target. Raises nothing but NffError for a correct reader; returns a coarse label
    of what happened (the driver keeps inputs with new labels). Stages are decoded while the
    bytes they decode to stay within `budget` (module docstring)."""
    labels = []
    for strict in (False, True):
        try:
            nff = read(data, strict=strict)
        except NffError as exc:
            labels.append(feature(exc))
            continue
        labels.append(f"ok{nff.stages_available}/{nff.stages_total}")
        header = nff.header
        invariant(header.file_size == header.chunks[-1].end, "file size")
        invariant(nff.stages_available <= nff.stages_total == len(header.stages), "stage counts")
        invariant(not strict or (nff.complete and len(data) == header.file_size), "strict means complete")
        left = budget
        for k in range(1, nff.stages_available + 1):
            invariant(header.prefix_bytes(k) <= len(data), "available stages are present")
            specs = header.stages[k - 1].tensors
            left -= stage_cost(header.stages[k - 1])
            if left < 0:
                labels.append("over-budget")
                break
            try:
                tensors = nff.stage_tensors(k)
            except NffError as exc:
                labels.append(feature(exc))
                continue
            invariant(list(tensors) == [t.name for t in specs], "tensor names")
            for spec in specs:
                value = tensors[spec.name]
                # Decoded tensors are what the header promised, and finite (formats/nff.md 6.1).
                invariant(value.dtype == np.float32 and value.shape == spec.shape, spec)
                invariant(bool(np.all(np.isfinite(value))), spec)
        declared = header.transform_data_bytes
        if nff.stages_available and (declared or 0) <= TRANSFORM_DATA_BUDGET:  # NXFM precedes every stage
            try:
                extra = nff.transform_data()
            except NffError as exc:
                labels.append(feature(exc))
            else:
                invariant((extra is None) == (declared is None), "transform data iff declared")
                invariant(extra is None or len(extra) == declared, "transform data size")
    try:
        needed = header_bytes_needed(data[:16])
        invariant(needed is None or needed >= 20, "header size")
    except NffError:
        pass
    return "|".join(labels)


def stage_cost(stage: Any) -> int:
    """Bytes that decoding a stage produces: its payload, then its tensors as binary32."""
    return stage.raw_bytes + 4 * stage.new_params


def load_seeds(corpus_dir: Path | None) -> list[bytes]:
    folder = corpus_dir or REPO_VECTORS
    seeds = [p.read_bytes() for p in sorted(folder.glob("*.nff"))] if folder.is_dir() else []
    if not any(s.startswith(SIGNATURE) for s in seeds):
        seeds += built_seeds()
    return seeds


def built_seeds() -> list[bytes]:
    """A few valid files made by the writer, for use outside a source checkout."""
    from .writer import StageData, assemble, encode_stage, transform_data_chunk

    out = []
    values = np.linspace(-2.0, 2.0, 12, dtype=np.float32).reshape(3, 4)
    for dtype, compression in (("f32", "zstd"), ("f16", "none"), ("q8", "zstd"), ("q16", "none")):
        stages = [encode_stage(StageData(w, [("a", values[:w], dtype)]), compression) for w in (1, 2)]
        out.append(assemble(modality="test", signal={}, transform={"id": 0, "name": "identity"},
                            field_info={"arch": "test", "config": {}}, stages=stages, compression=compression,
                            extra_chunks=[("teXt", b"seed")]))
    # A file with transform data (NXFM), so its checks are reached without the vectors too.
    permutation = np.array([2, 0, 1], "<u4").tobytes()
    stages = [encode_stage(StageData(1, [("a", values[:1], "f32")]))]
    out.append(assemble(modality="test", signal={}, transform={"id": 3, "name": "ordered", "params": {"data_bytes": 12}},
                        field_info={"arch": "test", "config": {}}, stages=stages, extra_chunks=[transform_data_chunk(permutation)]))
    return out


def feature(exc: BaseException) -> str:
    """An error's class and message with numbers and names blanked out."""
    return type(exc).__name__ + ":" + re.sub(r"[0-9]+|'[^']*'", "#", str(exc))[:80]


def write_finding(folder: Path, data: bytes, report: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"finding-{hashlib.sha256(data).hexdigest()[:12]}.hex"
    path.write_text(data.hex() + "\n")
    path.with_suffix(".txt").write_text(report)
    return path


def fuzz(
    seconds: float,
    seed: int = 0,
    findings: Path = Path("fuzz-findings"),
    corpus_dir: Path | None = None,
    target: Callable[[bytes], object] = check,
    max_seconds: float = 5.0,
    max_rss_mb: int = 2048,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
) -> int:
    """Fuzz `target` for `seconds`; returns 0 if nothing was found, else 1 (finding written)."""
    rng = random.Random(seed)
    corpus = load_seeds(corpus_dir)
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    valid: list[bytes] = []  # inputs that parsed: mutants of these reach the deeper code
    runs, n_seeds = 0, len(corpus)
    while True:
        # Seeds first, unchanged, then mutants of corpus members until the time is up.
        if runs >= n_seeds and time.monotonic() >= deadline:
            break
        if runs < n_seeds:
            data = corpus[runs]
        else:
            parent = rng.choice(valid) if valid and rng.random() < 0.5 else rng.choice(corpus)
            data = mutate(parent, rng, corpus)
        runs += 1
        start = time.monotonic()
        try:
            result = target(data)
            label = result if isinstance(result, str) else "ok"
        except NffError as exc:
            label = feature(exc)
        except BaseException as exc:  # noqa: BLE001 -- every other exception is the finding
            if isinstance(exc, KeyboardInterrupt):
                raise
            path = write_finding(findings, data, traceback.format_exc())
            log(f"FINDING after {runs} inputs: {type(exc).__name__}: {exc}\nreproducer: {path}")
            return 1
        elapsed = time.monotonic() - start
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # peak so far
        if elapsed > max_seconds or rss_mb > max_rss_mb:
            path = write_finding(findings, data, f"slow or large: {elapsed:.2f} s, peak RSS {rss_mb} MiB\n")
            log(f"FINDING after {runs} inputs: {elapsed:.2f} s, peak RSS {rss_mb} MiB\nreproducer: {path}")
            return 1
        if label not in seen:
            seen.add(label)
            pool = valid if label.startswith("ok") else corpus
            if len(pool) < 1000:
                pool.append(data)
            else:  # keep the seeds, replace an older find
                pool[rng.randrange(n_seeds if pool is corpus else 0, len(pool))] = data
    log(f"no findings: {runs} inputs in {seconds:g} s, {len(seen)} distinct outcomes, corpus {len(corpus)} + {len(valid)} valid")
    return 0


def atheris_fuzz(target: Callable[[bytes], object], libfuzzer_args: list[str], seeds: list[bytes],
                 allowed: type[BaseException] = NffError, mutate_share: float = 0.7) -> None:
    """Run `target` under libFuzzer (atheris) until libFuzzer stops: `libfuzzer_args` are its
    command line (argv[0] first, then flags and corpus folders). Only `allowed` exceptions are
    not findings. Mutations: `mutate` (structure-aware) for `mutate_share` of them, libFuzzer's
    own byte mutations for the rest (and for inputs that are not `.nff` at all). Instrument the
    code under test (atheris.instrument_imports) before importing it, then call this."""
    import atheris  # type: ignore[import-not-found]

    pool = [s for s in seeds if len(s) <= 1 << 16][:256]  # splice partners

    def one_input(data: bytes) -> None:
        try:
            target(data)
        except allowed:
            pass

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() >= mutate_share or not data.startswith(SIGNATURE[:4]):
            return atheris.Mutate(data, max_size)
        if len(pool) < 256:  # inputs the fuzzer found become splice partners too
            pool.append(data)
        elif rng.random() < 0.05:
            pool[rng.randrange(len(pool))] = data
        return mutate(data, rng, pool, max_size)

    atheris.Setup(libfuzzer_args, one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


def fuzz_atheris(seconds: float, seed: int, findings: Path, corpus_dir: Path | None) -> int:
    """The container target under libFuzzer: its corpus grows under --findings/atheris-corpus."""
    import atheris  # type: ignore[import-not-found]

    atheris.instrument_all()  # the reader is imported already: instrument what is loaded
    work = findings / "atheris-corpus"
    work.mkdir(parents=True, exist_ok=True)
    seeds = load_seeds(corpus_dir)
    for i, data in enumerate(seeds):
        (work / f"seed-{i}").write_bytes(data)
    args = [sys.argv[0], f"-max_total_time={int(seconds)}", f"-seed={seed}", f"-artifact_prefix={findings}/", str(work)]
    atheris_fuzz(check, args, seeds)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nfcodec.container.fuzz_reader", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0; for atheris 0 means a random one)")
    parser.add_argument("--findings", type=Path, default=Path("fuzz-findings"), help="folder for reproducers")
    parser.add_argument("--corpus", type=Path, default=None, help="folder of seed .nff files (default formats/vectors)")
    parser.add_argument("--engine", choices=("builtin", "atheris"), default="builtin",
                        help="builtin (default, no dependencies) or atheris (coverage-guided, if installed)")
    parser.add_argument("--max-seconds", type=float, default=5.0, help="slowest acceptable input (default 5)")
    parser.add_argument("--max-rss-mb", type=int, default=2048, help="largest acceptable peak memory (default 2048)")
    parser.add_argument("--reproduce", type=Path, default=None, help="run one .hex reproducer and show the outcome")
    args = parser.parse_args(argv)
    if args.reproduce:
        check(bytes.fromhex(args.reproduce.read_text().split()[0]))  # raises the finding, if still there
        print("no finding: only NffError (or nothing) was raised")
        return 0
    if args.engine == "atheris":
        try:
            return fuzz_atheris(args.seconds, args.seed, args.findings, args.corpus)
        except ImportError:
            parser.error("atheris is not installed (pip install atheris), use --engine builtin")
    return fuzz(args.seconds, args.seed, args.findings, args.corpus, max_seconds=args.max_seconds, max_rss_mb=args.max_rss_mb)


if __name__ == "__main__":
    sys.exit(main())
