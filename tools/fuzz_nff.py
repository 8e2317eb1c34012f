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
(nfcodec/container/fuzz_mutators.py: truncations, bit flips, chunks reordered, duplicated,
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
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "formats" / "fuzz-corpus"
VECTORS = ROOT / "formats" / "vectors"
CASE_CPU_SECONDS = 1.0
CASE_RSS_MIB = 512
RENDER_BUDGET = 1 << 25  # field multiply-adds per rendered width
RENDER_POINTS = 1 << 16  # and samples (a tiny field still costs about a microsecond per sample)
SHAPE_RESOLUTION = 12
# the fuzzer itself, and the numba kernels (numba compiles their bytecode: atheris's probes break it)
NOT_INSTRUMENTED = ["nfcodec.container.fuzz_mutators", "nfcodec.container.fuzz_reader", "nfcodec.fields.grid_kernels",
                    "nfcodec.fields.grid_lattice", "nfcodec.fields.grid_lattice3", "nfcodec.fields.mlp_kernels"]
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


def _on_sigprof(signum: int, frame: Any) -> None:
    raise _CpuTimeout()


def guarded(target: Callable[[bytes], str], data: bytes, cpu_seconds: float = CASE_CPU_SECONDS,
            rss_mib: int = CASE_RSS_MIB) -> tuple[str, float, float]:
    """(label, CPU seconds, peak RSS above the starting RSS in MiB) of one case; Finding if it
    runs past `cpu_seconds` of CPU time or past `rss_mib`."""
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


# ---- corpus, seeds, replay ---------------------------------------------------------------------


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


# Tiny real encodes of every modality, field, transform family and coding (~2 minutes on 1 CPU).
ENCODES = [
    ("crop32.png", "img_grid.nff", "--steps 4 --stages 2 --transform none"),
    ("crop32.png", "img_qe.nff", "--steps 4 --size 2500 --stages 2 --transform none"),
    ("crop32.png", "img_siren.nff", "--steps 4 --arch siren --widths 4,8 --transform none"),
    ("crop16g.png", "img_grey_ordered.nff", "--steps 4 --stages 2 --transform ordered --size 2500"),
    ("crop24a.png", "img_rgba_rpp.nff", "--steps 4 --stages 2 --transform rpp --size 2500"),
    ("crop32.png", "img_gamma_spatial.nff", "--steps 4 --stages 3 --transform gamma0.5 --grow spatial --size 3000"),
    ("crop32.png", "img_affine_stagebpp.nff", "--steps 4 --stages 2 --transform halve --stage-bpp 12,20"),
    ("crop32.png", "img_invert_q16.nff", "--steps 4 --stages 2 --transform invert --dtype q16 --arch siren --widths 3,5"),
    ("crop16g.png", "img_standardise_f32.nff", "--steps 4 --transform standardise --dtype f32 --arch siren --widths 2,4"),
    ("clip", "clip.nff", "--steps 4 --frames 0:3 --resize 48x40 --stages 2 --transform none --size 3000"),
    ("clip", "clip_temporal.nff", "--steps 4 --frames 0:3 --resize 48x40 --stages 3 --grow temporal --transform none --size 3500"),
    ("clip", "clip_siren_spatial.nff",
     "--steps 4 --frames 0:2 --resize 32x24 --stages 2 --grow spatial --arch siren --widths 4,8 --transform invert"),
    ("mesh", "shape.nff", "--steps 4 --stages 2 --size 3KB"),
    ("mesh", "shape_siren.nff", "--steps 4 --arch siren --widths 4,8"),
]


def make_seeds(out: Path) -> None:
    """Seed corpus: the conformance vectors, tiny real encodes (ENCODES) and the attacks."""
    import imageio.v3 as iio
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(VECTORS.glob("*.nff")):
        shutil.copy(path, out / f"vector_{path.name}")
    work = out / ".inputs"
    work.mkdir(exist_ok=True)
    pixels = iio.imread(ROOT / "samples" / "kodim23.png")
    iio.imwrite(work / "crop32.png", pixels[200:232, 300:340])
    iio.imwrite(work / "crop16g.png", pixels[200:216, 300:324, 0])
    iio.imwrite(work / "crop24a.png", np.concatenate([pixels[100:124, 100:124], np.full((24, 24, 1), 200, np.uint8)], axis=2))
    sources = {"clip": ROOT / "samples" / "carphone_24f.mp4", "mesh": ROOT / "samples" / "bunny_6k.obj"}
    for source, name, options in ENCODES:
        src = sources.get(source, work / source)
        subprocess.run([sys.executable, "-m", "nfcodec", "encode", str(src), "-o", str(out / name), "-q", "--threads", "1",
                        *options.split()], check=True)
    shutil.rmtree(work)
    for name, data in attack_cases().items():
        (out / f"attack_{name}.nff").write_bytes(data)


# ---- the attacks of issue 16, each a file ------------------------------------------------------


def _base() -> bytes:
    """A real decodable file: the siren image vector (2 stages, zstd, 4x3 pixels)."""
    return (VECTORS / "ok_siren_image.nff").read_bytes()


def attack_cases() -> dict[str, bytes]:
    """One small file per attack of issue 16, most built from a valid SIREN image (the vector
    ok_siren_image: 2 stages, zstd): the tests expect an outcome of each, and the seed corpus
    holds them."""
    import msgpack

    from nfcodec.container import fuzz_mutators as fm
    from nfcodec.decoding import pack_search_table

    base = bytearray(_base())
    head = fm.read_head(base)[2]
    chunks = fm.walk(base)
    s1, s2 = chunks[1][0], chunks[2][0]
    body = [bytes(base[p : p + 12 + n]) for p, n, _ in chunks[1:]]  # stage 1, stage 2, NEND

    def with_body(*pieces: bytes) -> bytes:  # the chunks after the header replaced, the index rewritten
        return bytes(fm.reindex(base[:s1] + bytearray(b"".join(pieces))))

    def with_header(change: Callable[[dict[str, Any]], None]) -> bytes:  # a CRC-valid header, changed
        h = msgpack.unpackb(msgpack.packb(head), raw=False)
        change(h)
        return bytes(fm.with_head(base, msgpack.packb(h)))

    def with_keys(*items: tuple[str, bytes]) -> bytes:  # extra keys holding raw msgpack values
        packed = [(msgpack.packb(k), msgpack.packb(v)) for k, v in head.items()]
        return bytes(fm.with_head(base, fm.raw_map(packed + [(msgpack.packb(k), v) for k, v in items])))

    def shift_index(entry: int, by: int) -> Callable[[dict[str, Any]], None]:
        def change(h: dict[str, Any]) -> None:
            h["index"][entry][1] += by
        return change

    def shape_mismatch(h: dict[str, Any]) -> None:  # consistent with the bytes, not with the field
        t = next(t for t in h["stages"][0]["tensors"] if len(set(t["shape"])) == 2)
        t["shape"] = t["shape"][::-1]

    flipped, huge = bytearray(base), bytearray(base)
    flipped[s1 + 20] ^= 0x04
    huge[s1 : s1 + 4] = (0xFFFFFFF0).to_bytes(4, "big")
    side = head["signal"]["shape"]
    srch_bomb = fm.zstd_header(1 << 30, window_log=27) + fm.rle_blocks(1 << 30)  # 32 KB of frame, 1 GiB of table
    table = pack_search_table({"rows": [{"transform": "identity", "lr": 0.01, "psnr": 30.5, "chosen": True}],
                               "choice": "identity"})
    cases = {
        "truncated_in_stage2": bytes(base[: s2 + 20]),
        "bit_flip_stage1": bytes(flipped),
        "reordered_stages": with_body(body[1], body[0], body[2]),
        "duplicated_stage": with_body(body[0], body[0], body[1], body[2]),
        "huge_chunk_length": bytes(huge),
        "huge_header_length": bytes(base[:8]) + ((1 << 20) + 1).to_bytes(4, "big") + bytes(base[12:40]),
        "index_past_end": with_header(shift_index(-1, 1 << 20)),
        "index_overlap": with_header(shift_index(1, -4)),
        "shape_mismatch": with_header(shape_mismatch),
        "extent_out_of_range": with_header(lambda h: h["stages"][0].update(extent=[[0, side[0] + 1], [0, side[1]]])),
        "signal_too_large": with_header(lambda h: h["signal"].update(shape=[1 << 15, 1 << 15])),
        # valid: 4096 x 4096 pixels from 9 parameters (the fuzz target renders one block of it)
        "signal_large": with_header(lambda h: h["signal"].update(shape=[1 << 12, 1 << 12])),
        # a stage of 16 MiB whose frame declares that size (above its 1 MiB window: libzstd's
        # streaming decoder checks the size only at the frame's end) and expands to 1 GiB
        "zstd_lying_bomb": _test_file([{"width": 1, "tensors": [{"name": "a", "shape": [1 << 22], "dtype": "f32"}]}],
                                      [fm.zstd_header(1 << 24, window_log=20) + fm.rle_blocks(1 << 30)], "zstd"),
        "zstd_declares_huge": with_body(fm.frame(b"NSTG", fm.zstd_header(1 << 40, window_log=20) + fm.rle_blocks(1 << 20)),
                                        body[1], body[2]),
        "search_table_bomb": with_body(body[0], body[1], fm.frame(b"srch", srch_bomb), body[2]),
        "search_table_valid": with_body(body[0], body[1], fm.frame(b"srch", table), body[2]),
        "msgpack_deep": with_keys(("x", b"\x91" * 100_000 + b"\xc0")),
        # 1,023 nested arrays each declaring 65,535 entries, cut short: msgpack nests 1,024
        # levels while parsing (the 16-level limit is checked on the parsed value)
        "msgpack_deep_declared": with_keys(("x", b"\xdc\xff\xff" * 1023)),
        # 15 arrays of 65,535 empty arrays: a 1 MiB header of 983,040 objects
        "msgpack_enormous": with_keys(*[(f"x{i}", b"\xdc\xff\xff" + b"\x90" * 65535) for i in range(15)]),
        "unknown_critical_chunk": with_body(body[0], body[1], fm.frame(b"XTRA", b"?"), body[2]),
        "unknown_ancillary_chunk": with_body(body[0], body[1], fm.frame(b"xtRa", b"?" * 9), body[2]),
    }
    cases.update(_qe_attacks(head, base))
    return cases


def _test_file(stages: list[dict[str, Any]], payloads: list[bytes], compression: str = "none",
               version: tuple[int, int] = (1, 0)) -> bytes:
    """A file of the container's test modality (no field: only the reader decodes it)."""
    import msgpack

    from nfcodec.container import fuzz_mutators as fm

    head = {"version": list(version), "modality": "test", "signal": {}, "transform": {"id": 0, "name": "identity", "params": {}},
            "field": {"arch": "test", "config": {}}, "compression": compression, "stages": stages, "index": []}
    body = b"".join(fm.frame(b"NSTG", p) for p in payloads) + fm.frame(b"NEND", b"")
    return bytes(fm.reindex(bytearray(b"\x8bNFF\r\n\x1a\n" + fm.frame(b"NHDR", msgpack.packb(head)) + body)))


def _qe_attacks(head: dict[str, Any], base: bytearray) -> dict[str, bytes]:
    """Stage 1's first tensor as a hostile qe stream (an alphabet beyond max(256, 4N), a word
    left after a constant model, table weights at 2^38, a zero last word), and stage 1 as
    constant streams of 2^28 + 4 codes in all (above the file's limit of coded elements)."""
    import msgpack
    import zstandard

    from nfcodec.container import fuzz_mutators as fm

    pos, length, _ = fm.walk(base)[1]
    raw = zstandard.ZstdDecompressor().decompress(bytes(base[pos + 8 : pos + 8 + length]))
    first = head["stages"][0]["tensors"][0]
    size = {"f32": 4, "f16": 2}[first["dtype"]] * math.prod(first["shape"])
    word = b"\x01\x00\x00\x00"
    streams = {
        "qe_alphabet_too_large": bytes([1]) + fm.uvarint(0) + fm.uvarint(65537) + bytes([0, 128]) + word,
        "qe_leftover_word": bytes([0]) + fm.uvarint(0) + fm.uvarint(1) + word,
        "qe_table_overflow": bytes([2]) + fm.uvarint(0) + fm.uvarint(2) + bytes([24]) + fm.uvarint(1 << 14) * 2 + word,
        "qe_zero_last_word": bytes([1]) + fm.uvarint(0) + fm.uvarint(3) + bytes([1, 100]) + b"\x05\x00\x00\x00" + bytes(4),
    }

    def with_stage1(change: Callable[[list[dict[str, Any]]], None], payload: bytes) -> bytes:
        h = msgpack.unpackb(msgpack.packb(head), raw=False)
        h["version"] = [1, 1]
        change(h["stages"][0]["tensors"])
        data = fm.with_head(base, msgpack.packb(h))
        p = fm.walk(data)[1][0]
        stage = fm.frame(b"NSTG", zstandard.ZstdCompressor(write_content_size=True).compress(payload))
        return bytes(fm.reindex(data[:p] + bytearray(stage) + data[p + 12 + length :]))

    out = {name: with_stage1(lambda tensors, n=len(stream): tensors[0].update(dtype="qe", step=1.0, bytes=n), stream + raw[size:])
           for name, stream in streams.items()}
    constant = [{"name": f"c{i}", "shape": [1 << 26], "dtype": "qe", "step": 1.0, "bytes": 3} for i in range(4)]
    constant.append({"name": "d", "shape": [4], "dtype": "qe", "step": 1.0, "bytes": 3})
    def all_constant(tensors: list[dict[str, Any]]) -> None:
        tensors[:] = constant

    out["qe_too_many_codes"] = with_stage1(all_constant, bytes([0, 0, 1]) * 5)
    return out


# ---- memory: the largest decodes the limits allow, and bombs, each measured alone -------------------


def field_file(arch: str, config: dict[str, Any], widths: list[int], signal: dict[str, Any], modality: str = "image",
               declared: Callable[[int, str, list[int]], list[int]] | None = None) -> bytes:
    """A file whose every tensor is a 3-byte qe stream (a constant model): the smallest file
    that declares a field of this size. `declared(stage, name, shape)` may change the shapes
    the header declares."""
    import msgpack

    from nfcodec.container import fuzz_mutators as fm
    from nfcodec.registry import FIELDS

    entry = FIELDS.by_name(arch)
    cls = entry.load()
    clean = cls.validate_config(config, tuple(widths))
    stages, body = [], b""
    for k in range(1, len(widths) + 1):
        shapes = cls.stage_shapes(tuple(widths), clean, k)
        stages.append({"width": widths[k - 1], "tensors": [
            {"name": n, "shape": declared(k, n, list(v)) if declared else list(v), "dtype": "qe", "step": 1.0, "bytes": 3}
            for n, v in shapes.items()]})
        body += fm.frame(b"NSTG", bytes([0, 0, 1]) * len(shapes))
    body += fm.frame(b"NEND", b"")
    head = {"version": [1, 1], "modality": modality, "signal": signal, "transform": {"id": 0, "name": "identity", "params": {}},
            "field": {"arch": arch, "id": entry.id, "config": config}, "compression": "none", "stages": stages, "index": []}
    data = b"\x8bNFF\r\n\x1a\n" + fm.frame(b"NHDR", msgpack.packb(head)) + body
    return bytes(fm.reindex(bytearray(data)))


def _image(side: int) -> dict[str, Any]:
    return {"schema": "image", "schema_version": 1, "shape": [side, side], "channels": 1, "bit_depth": 8}


def memory_cases() -> dict[str, tuple[str, bytes]]:
    """name -> (operation, file): "stage" (read, stage 1's tensors), "decode" (decode_bytes,
    every stage), "render" (and its widest width), "info"."""
    attacks = attack_cases()
    from nfcodec.container import fuzz_mutators as fm

    siren = {"in_dim": 2, "out_dim": 1, "hidden_layers": 16, "omega": 30.0}
    q8_quarters = [{"name": f"a{i}", "shape": [1 << 26], "dtype": "q8", "step": 1.0} for i in range(4)]
    return {
        "zstd_lying_bomb": ("stage", attacks["zstd_lying_bomb"]),  # 1 GiB from 33 KB, declared as 16 MiB
        "zstd_declares_huge": ("stage", attacks["zstd_declares_huge"]),
        "search_table_bomb": ("info", attacks["search_table_bomb"]),  # 1 GiB from 33 KB
        "msgpack_enormous": ("decode", attacks["msgpack_enormous"]),  # 983,040 arrays in a 1 MiB header
        "msgpack_deep_declared": ("decode", attacks["msgpack_deep_declared"]),
        "qe_too_many_codes": ("decode", attacks["qe_too_many_codes"]),
        # a SIREN of 2^27 + 2^20 parameters: refused before its allocation (MAX_FIELD_PARAMS)
        "field_over_limit": ("decode", field_file("siren", siren, [1450, 2900], _image(2))),
        # the same with one tensor declared [1, 1]: refused before the field is allocated
        "field_shapes_mismatch": ("decode", field_file("siren", siren, [1445, 2890], _image(2),
                                                       declared=lambda k, n, shape: [1, 1] if (k, n) == (2, "out.w") else shape)),
        # the largest SIREN the limit allows (2^27 parameters, 0.5 GiB), from a 5 KB file
        "field_at_limit": ("decode", field_file("siren", siren, [1445, 2890], _image(2))),
        # the largest stage the limits allow: 2^28 q8 codes (1 GiB as binary32) from an 8 KB frame
        "stage_at_limit": ("stage", _test_file([{"width": 1, "tensors": q8_quarters}], [fm.zstd_header(1 << 28, window_log=20)
                                                                                        + fm.rle_blocks(1 << 28)], "zstd")),
        # as many q8 codes, 64 fewer, and 128 qe codes whose streams take 3 bytes: over the
        # stage-elements limit, although the stage's raw size is within its own
        "stage_elements_over_limit": ("stage", _test_file([{"width": 1, "tensors": [
            *q8_quarters[:3], {"name": "a3", "shape": [(1 << 26) - 64], "dtype": "q8", "step": 1.0},
            {"name": "e", "shape": [128], "dtype": "qe", "step": 1.0, "bytes": 3}]}],
            [fm.zstd_header((1 << 28) - 61, window_log=20) + fm.rle_blocks((1 << 28) - 61)], "zstd", version=(1, 1))),
        # one layer of 2^20 units rendered on 16x16 pixels (MAX_ACTIVATIONS: in pieces of 32)
        "wide_layer_render": ("render", field_file("siren", {"in_dim": 2, "out_dim": 1, "hidden_layers": 0, "omega": 30.0},
                                                   [1 << 20], _image(16))),
    }


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
    seeds = [p.read_bytes() for p in corpus_files([f for f in folders if f.is_dir()])][:400] or [_base()]
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
        measure("decode", _base())  # imports and first-use costs, outside the measurements
        for name in args.names or cases:
            print(json.dumps({"name": name, **measure(*cases[name])}), flush=True)
        return 0
    make_seeds(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
