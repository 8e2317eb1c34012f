#!/usr/bin/env python3
"""Coverage-guided fuzzing of the `.nff` reader and decoder (atheris / libFuzzer).

    pip install atheris                                     # the fuzz command only
    R=$PWD; mkdir -p /tmp/nff-fuzz && cd /tmp/nff-fuzz     # libFuzzer writes fuzz-0.log here
    nice -n 10 python3 $R/tools/fuzz_nff.py fuzz corpus $R/formats/fuzz-corpus -max_total_time=1800 -workers=1 -jobs=1
    python3 $R/tools/fuzz_nff.py fuzz -merge=1 new $R/formats/fuzz-corpus corpus   # minimise into new/
    cd $R && python3 tools/fuzz_nff.py replay formats/fuzz-corpus   # every file through the target, no atheris
    python3 tools/fuzz_nff.py seeds SEEDS                   # vectors + tiny real encodes + attacks
    python3 tools/fuzz_nff.py memory                        # peak RSS of the largest decodes and of bombs

`fuzz` passes its arguments to libFuzzer (flags and corpus folders: new inputs go to the first,
created if missing; with -jobs libFuzzer reruns this script, so keep it executable);
it adds -timeout=60 (wall clock: a backstop), -rss_limit_mb=4096, -max_len=262144 and
-artifact_prefix=fuzz-findings/ unless given. Mutations are structure-aware
(nfcodec/container/fuzz_mutators/: truncations, bit flips, chunks reordered, duplicated,
dropped or of unknown types, huge lengths, index offsets that overlap or point past the end,
CRC-valid headers with inconsistent values, deep or enormous msgpack, zstd bombs, hostile qe
streams) for 70% of the inputs, libFuzzer's byte mutations for the rest. nfcodec (container,
decoding, modalities, fields, transforms) is instrumented for coverage.

The target (`run_case`) does what a decoder does with untrusted bytes: `container.read` strict
and progressive with every available stage's tensors and the transform data
(fuzz_reader.check), `decoding.info` (with the ancillary search table), then `decode_bytes`
(shapes at --resolution 12) and rendering of width 1 and of the widest width decoded (the
modality's render; writing files, e.g. a shape's marching cubes, is not part of the target). Only
`nfcodec.errors.NfcError` may escape a step, with a one-line message; any other exception, a
broken invariant, a case over 1 s of CPU time (`CASE_CPU_SECONDS`, a SIGPROF timer) or a case
whose peak RSS exceeds the RSS before it by more than `CASE_RSS_MIB` (VmHWM, reset before each
case) is a finding (libFuzzer writes it under -artifact_prefix; `replay` exits 1).

Work rule, so that every case is bounded (a small input may declare gigabytes that the
limits allow, and decoding them is linear in what is declared, not a bug):
  * the container's stages are decoded while the bytes they decode to (payload + binary32
    tensors) stay within fuzz_reader.DECODE_BUDGET (32 MiB) per input, NXFM data up to 16 MiB;
  * `decode_bytes` runs when the field it allocates (4 bytes per declared parameter of every
    stage), the stages it loads and the transform data fit the same 32 MiB;
  * a width is rendered whole (modality.render, assembled) when it has at most RENDER_POINTS
    (2^16) output samples and those times the field's multiply-adds per sample are at most
    RENDER_BUDGET (2^25); else one block of its lattice, of as many samples as both allow, is
    evaluated through the field and, for pointwise transforms, inverted.
Declared sizes beyond the budget are exercised at full size by the tests
(tests/container/test_fuzz_corpus.py: memory and time of the largest decodes the limits allow).

Memory: see formats/nff.md, "Limits" (the bound for any file and how the code enforces it); a
fuzz case stays under CASE_RSS_MIB above its starting RSS.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

TOOLS = Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:  # loaded by path (the tests), not run as a script
    sys.path.insert(0, str(TOOLS))
from fuzz_cases import attack_cases, base_file, field_file, make_seeds, memory_cases  # noqa: E402

# What the tests (tests/container/test_fuzz_corpus.py) and users reach through this script,
# the case builders of fuzz_cases.py included.
__all__ = ["CASE_CPU_SECONDS", "CASE_RSS_MIB", "Finding", "attack_cases", "field_file", "fuzz", "guarded", "main",
           "measure", "memory_cases", "one_line", "replay", "run_case", "warm_up"]

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "formats" / "fuzz-corpus"
CASE_CPU_SECONDS = 1.0
CASE_RSS_MIB = 512
CUT_RETRY_SECONDS = 0.02  # CPU time before a cut deferred by an import or a compile is tried again
RENDER_BUDGET = 1 << 25  # field multiply-adds per rendered width
RENDER_POINTS = 1 << 16  # and samples (a tiny field still costs about a microsecond per sample)
SHAPE_RESOLUTION = 12
# the fuzzer itself, and the numba kernels (numba compiles their bytecode: atheris's probes break it);
# atheris excludes a module by its exact name, so every module of the mutators' package is named
MUTATORS_PACKAGE = "nfcodec.container.fuzz_mutators"
MUTATOR_MODULES = sorted(p.stem for p in (ROOT / "nfcodec" / "container" / "fuzz_mutators").glob("*.py") if p.stem != "__init__")
NOT_INSTRUMENTED = [MUTATORS_PACKAGE, *(f"{MUTATORS_PACKAGE}.{m}" for m in MUTATOR_MODULES), "nfcodec.container.fuzz_reader",
                    "nfcodec.fields.grid_kernels", "nfcodec.fields.grid_lattice", "nfcodec.fields.grid_lattice3",
                    "nfcodec.fields.mlp_kernels"]
# -timeout is libFuzzer's wall clock: only a backstop for a hang in native code (a case's limit is
# its CPU time), long enough that a process starved of CPU by others is not reported as hanging
DEFAULT_LIBFUZZER = {"-timeout": "60", "-rss_limit_mb": "4096", "-max_len": "262144", "-artifact_prefix": "fuzz-findings/"}


class Finding(Exception):
    """What a correct decoder never does: the fuzzers report it (never an NfcError)."""


class _CpuTimeout(BaseException):  # BaseException: library code that catches Exception lets it through
    pass


# ---- the target ------------------------------------------------------------------------------


def invariant(condition: bool, what: object) -> None:
    if not condition:  # not `assert`: must survive python -O
        raise Finding(f"invariant broken: {what}")


def one_line(exc: BaseException) -> str:
    """The label of an NfcError, after checking it is the promised one-line message."""
    from nfcodec.container.fuzz_reader import feature

    message = str(exc)
    invariant(bool(message.strip()) and "\n" not in message, f"{type(exc).__name__} message is not one line: {message!r}")
    return feature(exc)


def step(fn: Callable[[], str]) -> str:
    from nfcodec.errors import NfcError

    try:
        return fn()
    except NfcError as exc:
        return one_line(exc)


def run_case(data: bytes) -> str:
    """Everything a decoder does with `data` (module docstring); returns a coarse label.
    Raises Finding (or any non-NfcError exception) for a bug."""
    from nfcodec.container import fuzz_reader

    with _header_parsed_once():
        return "|".join((fuzz_reader.check(data), step(lambda: _info(data)), step(lambda: _decode(data))))


@contextlib.contextmanager
def _header_parsed_once() -> Iterator[None]:
    """Within a case, the reader's header parse (pure: bytes in, a frozen Header or an error
    out) runs once per distinct header: the case reads the file five times (two modes, info,
    the budget, decode_bytes) where a decoder reads it once, and the largest header the limits
    allow takes up to a fifth of a second to parse."""
    from nfcodec.container import reader

    parse = reader.unpack_header
    seen: dict[tuple[bytes, int], Any] = {}

    def once(data: Any, header_end: int) -> Any:
        key = (bytes(data), header_end)
        if key not in seen:
            try:
                seen[key] = (True, parse(data, header_end))
            except Exception as exc:  # noqa: BLE001 -- replayed to every reader of this header
                seen[key] = (False, exc)
        ok, value = seen[key]
        if not ok:
            raise value
        return value

    reader.unpack_header = once
    try:
        yield
    finally:
        reader.unpack_header = parse


def _info(data: bytes) -> str:
    from nfcodec import decoding

    summary = decoding.info(data)
    invariant(summary["bytes_present"] <= summary["file_size"], "info: bytes present")
    return "info" + ("+search" if "search" in summary else "+search_error" if "search_error" in summary else "")


def decode_cost(nff: Any) -> int:
    """Bytes `decode_bytes` produces for a read file: the field (every stage's parameters, as
    binary32), the stages it loads (fuzz_reader.stage_cost) and the transform data."""
    from nfcodec.container.fuzz_reader import stage_cost

    header = nff.header
    field = 4 * sum(s.new_params for s in header.stages)
    stages = sum(stage_cost(s) for s in header.stages[: nff.stages_available])
    return field + stages + (header.transform_data_bytes or 0)


def _decode(data: bytes) -> str:
    from nfcodec import container
    from nfcodec.container.fuzz_reader import DECODE_BUDGET
    from nfcodec.decoding import decode_bytes

    nff = container.read(data)
    if decode_cost(nff) > DECODE_BUDGET:
        return "decode:over-budget"
    result = decode_bytes(data, options={"resolution": SHAPE_RESOLUTION})
    invariant(1 <= result.width <= result.widths_available <= result.stages_total, "decoded widths")
    invariant(result.complete == nff.complete and (result.note is None) == nff.complete, "truncation is reported")
    result.to_json()
    labels = [f"decoded:{result.modality}"]
    for width in sorted({1, result.width}):
        labels.append(render(result.decoder, width))
    return "|".join(labels)


def point_cost(field: Any) -> int:
    """Multiply-adds of one field evaluation (an upper bound: the MLP at its full width, and
    every encoding feature read at 2^in_dim corners)."""
    mlp = sum(p.numel() for p in field.mlp.parameters())
    return mlp + (1 << field.in_dim) * max(field.encoding.out_dims())


def bounded_lattice(lattice: Any, max_points: int) -> Any:
    """The first samples of a lattice, at most `max_points` (whole last axes while they fit)."""
    from nfcodec.fields.base import Lattice

    axes, left = [], max(1, max_points)
    for axis in reversed(lattice.axes):
        take = min(len(axis), max(1, left))
        axes.append(axis[:take])
        left //= take
    return Lattice(tuple(reversed(axes)))


def render(decoder: Any, width: int) -> str:
    """Render `width` by the work rule (module docstring) and check what comes out."""
    import numpy as np
    import torch

    from nfcodec.modalities.base import extent_lattice
    from nfcodec.train import predict_lattice

    modality, geometry, field = decoder.modality, decoder.geometry, decoder.field
    domain = modality.domain(geometry)
    extent = decoder.extent(width)
    lattice = extent_lattice(domain.shape, extent)
    per_point = point_cost(field)
    if lattice.num_points <= RENDER_POINTS and lattice.num_points * per_point <= RENDER_BUDGET:
        blocks = list(decoder.blocks(width))
        out = modality.assemble(blocks)
        expected = lattice.num_points * geometry.channels
        invariant(out.size == expected, f"{modality.name} render: {out.shape} for a lattice of {lattice.shape}")
        if modality.name == "shape":  # signed distances (its write, marching cubes, is not fuzzed: see the results)
            invariant(out.dtype == np.float32, f"shape render dtype {out.dtype}")
            return "render:full:shape"
        invariant(out.dtype in (np.uint8, np.uint16), f"{modality.name} render dtype {out.dtype}")
        return f"render:full:{modality.name}"
    block = bounded_lattice(lattice, min(RENDER_POINTS, RENDER_BUDGET // per_point))
    values = predict_lattice(field, block, width, torch.device("cpu")).numpy()
    invariant(values.shape == (block.num_points, field.out_dim), f"block render: {values.shape}")
    if not decoder.transform.moves_positions:
        decoder.transform.inverse(values)
    return "render:block"


# ---- guards: CPU time and memory of one case ---------------------------------------------------


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _in_import_or_compile(frame: Any) -> bool:
    """Whether the interrupted code is importing a module or compiling a numba kernel: an
    exception raised there leaves the process broken for every later case (a half-imported
    module, an LLVM library without its object code), so the cut must wait for it to end."""
    compiler_lock = sys.modules.get("numba.core.compiler_lock")
    if compiler_lock is not None and compiler_lock.global_compiler_lock.is_locked():
        return True
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _on_sigprof(signum: int, frame: Any) -> None:
    if _in_import_or_compile(frame):
        signal.setitimer(signal.ITIMER_PROF, CUT_RETRY_SECONDS)
        return
    raise _CpuTimeout()


def guarded(target: Callable[[bytes], str], data: bytes, cpu_seconds: float = CASE_CPU_SECONDS,
            rss_mib: int = CASE_RSS_MIB) -> tuple[str, float, float]:
    """(label, CPU seconds, peak RSS above the starting RSS in MiB) of one case; Finding if it
    runs past `cpu_seconds` of CPU time (cut by SIGPROF; a cut that lands in an import or a
    numba compile waits for it to end) or past `rss_mib`."""
    signal.signal(signal.SIGPROF, _on_sigprof)
    exact = _reset_peak()
    before = (_status_kib("VmRSS") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) or 0
    start = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    try:
        label = target(data)
    except _CpuTimeout:
        raise Finding(f"case ran past {cpu_seconds:g} s of CPU time") from None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    cpu = time.process_time() - start
    peak = (_status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) or 0
    grown = max(0, peak - before) / 1024
    if grown > rss_mib:
        raise Finding(f"case peaked at {grown:.0f} MiB above its starting RSS (bound {rss_mib} MiB)")
    return label, cpu, grown


# ---- corpus, replay ---------------------------------------------------------------------------


def corpus_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def warm_up(seeds: list[bytes]) -> None:
    """Run seeds once, untimed: imports, numba kernels (compiled or loaded from cache) and torch
    start-up happen here, not inside a timed case."""
    for data in seeds:
        try:
            run_case(data)
        except Exception:  # noqa: BLE001 -- findings are the fuzzer's to report, when it runs them
            pass


def replay(paths: list[Path], cpu_seconds: float = CASE_CPU_SECONDS, verbose: bool = True) -> int:
    files = list(corpus_files(paths))
    warm_up([f.read_bytes() for f in files[:40]])
    findings = 0
    for path in files:
        try:
            label, cpu, grown = guarded(run_case, path.read_bytes(), cpu_seconds)
        except Exception as exc:  # noqa: BLE001 -- every finding is reported, then the next file
            findings += 1
            print(f"FINDING {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        if verbose:
            print(f"{cpu:6.3f} s {grown:6.1f} MiB  {path.name}  {label[:150]}")
    print(f"{len(files)} files, {findings} findings", file=sys.stderr)
    return 1 if findings else 0

# ---- memory: each of fuzz_cases.memory_cases measured alone ---------------------------------------


def measure(operation: str, data: bytes) -> dict[str, Any]:
    """Outcome, CPU seconds and peak RSS above the RSS before (MiB) of one operation."""
    from nfcodec import container, decoding
    from nfcodec.errors import NfcError

    exact = _reset_peak()
    before = (_status_kib("VmRSS") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) or 0
    start = time.process_time()
    try:
        if operation == "info":
            outcome = "info: " + str(decoding.info(data).get("search_error", "ok"))
        elif operation == "stage":
            outcome = f"decoded {len(container.read(data).stage_tensors(1))} tensors"
        else:
            result = decoding.decode_bytes(data)
            outcome = f"decoded width {result.width}"
            if operation == "render":
                outcome += f", rendered {result.pixels.shape}"
    except NfcError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    cpu = time.process_time() - start
    peak = (_status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) or 0
    return {"outcome": outcome, "cpu_seconds": round(cpu, 3), "peak_mib": round(max(0, peak - before) / 1024, 1)}


# ---- the campaign --------------------------------------------------------------------------------


def fuzz(libfuzzer_args: list[str]) -> int:
    import atheris  # type: ignore[import-not-found]

    given = {a.split("=", 1)[0] for a in libfuzzer_args if a.startswith("-")}
    flags = [f"{k}={v}" for k, v in DEFAULT_LIBFUZZER.items() if k not in given]
    prefix = next((a.split("=", 1)[1] for a in [*flags, *libfuzzer_args] if a.startswith("-artifact_prefix=")), "")
    if prefix.endswith("/"):
        Path(prefix).mkdir(parents=True, exist_ok=True)
    folders = [Path(a) for a in libfuzzer_args if not a.startswith("-")]
    if folders and not folders[0].exists() and not folders[0].suffix:  # the corpus libFuzzer writes to (or merges into)
        folders[0].mkdir(parents=True, exist_ok=True)
    seeds = [p.read_bytes() for p in corpus_files([f for f in folders if f.is_dir()])][:400] or [base_file()]
    with atheris.instrument_imports(include=["nfcodec"], exclude=NOT_INSTRUMENTED):
        import nfcodec.decoding  # noqa: F401
        import nfcodec.train  # noqa: F401

        warm_up(seeds[:60])  # imports what decoding loads lazily (fields, modalities, transforms) while instrumenting
    from nfcodec.container.fuzz_reader import atheris_fuzz
    from nfcodec.errors import NfcError

    def target(data: bytes) -> None:
        guarded(run_case, data)

    atheris_fuzz(target, [sys.argv[0], *flags, *libfuzzer_args], seeds, allowed=NfcError)
    return 0


def single_threaded() -> None:
    """One thread for torch, numba and OpenMP (before they load): a case's CPU time is then its
    own time, and the campaign takes one core."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "NFC_THREADS"):
        os.environ.setdefault(name, "1")
    import torch

    torch.set_num_threads(1)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    single_threaded()
    if argv and argv[0] == "fuzz":
        return fuzz(argv[1:])
    if argv and argv[0] not in ("replay", "memory", "seeds", "-h", "--help"):
        return fuzz(argv)  # libFuzzer re-running this script (-jobs, -merge): its own arguments only
    parser = argparse.ArgumentParser(prog="tools/fuzz_nff.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fuzz", help="run libFuzzer (arguments go to libFuzzer)")
    p_replay = sub.add_parser("replay", help="run files or folders through the target")
    p_replay.add_argument("paths", type=Path, nargs="*", default=[CORPUS])
    p_replay.add_argument("--cpu-seconds", type=float, default=CASE_CPU_SECONDS)
    p_replay.add_argument("-q", "--quiet", action="store_true")
    p_memory = sub.add_parser("memory", help="peak RSS of the largest decodes and of bombs (JSON lines)")
    p_memory.add_argument("names", nargs="*")
    p_seeds = sub.add_parser("seeds", help="write the seed corpus")
    p_seeds.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "replay":
        return replay(args.paths, args.cpu_seconds, verbose=not args.quiet)
    if args.command == "memory":
        import json

        cases = memory_cases()
        measure("decode", base_file())  # imports and first-use costs, outside the measurements
        for name in args.names or cases:
            print(json.dumps({"name": name, **measure(*cases[name])}), flush=True)
        return 0
    make_seeds(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
