"""A mutation fuzzer for the `.nff` reader: only `NffError` may escape it (formats/nff.md).

    python -m nfcodec.container.fuzz_reader --seconds 60 [--seed 1] [--findings fuzz-findings]
    python -m nfcodec.container.fuzz_reader --reproduce fuzz-findings/finding-1a2b3c4d.hex
    python -m nfcodec.container.fuzz_reader --engine atheris --seconds 60   # if atheris is installed

Seeds are the conformance vectors in formats/vectors (or, outside a checkout, files built with
the writer). Each input goes through everything a decoder does with untrusted bytes: `read`
in both modes, `stage_tensors` for every available stage, `transform_data`, `header_bytes_needed`. Any other
exception, a broken invariant (an AssertionError), an input slower than --max-seconds or
memory beyond --max-rss-mb is a finding: its bytes are written as hex under --findings and the
process exits 1. Dependency-free (stdlib + the container's own dependencies).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import random
import re
import resource
import struct
import sys
import time
import traceback
import zlib
from pathlib import Path
from typing import Any, Callable

import msgpack
import numpy as np

from ..errors import NffError
from .chunks import SIGNATURE
from .reader import header_bytes_needed, read

REPO_VECTORS = Path(__file__).resolve().parents[2] / "formats" / "vectors"
INTERESTING_U32 = (0, 1, 7, 8, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, (1 << 20) + 1, (1 << 28) + 1, 1 << 31)
INTERESTING_VALUES: tuple[Any, ...] = (
    0, 1, -1, 2, 255, 65535, 65536, 2**31, 2**32 + 7, 2**63 - 1, -(2**63), 2**64 - 1,
    0.0, -0.0, 0.1, 1e300, float("nan"), float("inf"), 2.0**-127, 2.0**-126, 2.0**64, 2.0**65,
    True, False, None, "", "x" * 65, "a\nb", "f16", "q8", "NSTG", "NEND", "NXFM", "teXt", "XTRA",
    [], {}, [[]], b"", b"\x00",
)


def invariant(condition: bool, what: object) -> None:
    # Not `assert`: the checks must survive `python -O`.
    if not condition:
        raise AssertionError(f"invariant broken: {what}")


def check(data: bytes) -> str:
    """The fuzz target. Raises nothing but NffError for a correct reader; returns a coarse label
    of what happened (the driver keeps inputs with new labels)."""
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
        for k in range(1, nff.stages_available + 1):
            invariant(header.prefix_bytes(k) <= len(data), "available stages are present")
            try:
                tensors = nff.stage_tensors(k)
            except NffError as exc:
                labels.append(feature(exc))
                continue
            specs = header.stages[k - 1].tensors
            invariant(list(tensors) == [t.name for t in specs], "tensor names")
            for spec in specs:
                value = tensors[spec.name]
                # Decoded tensors are what the header promised, and finite (formats/nff.md 6.1).
                invariant(value.dtype == np.float32 and value.shape == spec.shape, spec)
                invariant(bool(np.all(np.isfinite(value))), spec)
        if nff.stages_available:  # the NXFM chunk precedes every stage, so it is present
            try:
                extra = nff.transform_data()
            except NffError as exc:
                labels.append(feature(exc))
            else:
                declared = header.transform_data_bytes
                invariant((extra is None) == (declared is None), "transform data iff declared")
                invariant(extra is None or len(extra) == declared, "transform data size")
    try:
        needed = header_bytes_needed(data[:16])
        invariant(needed is None or needed >= 20, "header size")
    except NffError:
        pass
    return "|".join(labels)


# ---- structure-aware helpers -------------------------------------------------------------


def walk(data: bytes | bytearray) -> list[tuple[int, int, bytes]]:
    """(offset, data length, type) of each chunk whose framing fits in `data`."""
    out, pos = [], len(SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        if pos + 12 + length > len(data):
            break
        out.append((pos, length, bytes(data[pos + 4 : pos + 8])))
        pos += 12 + length
    return out


def frame(chunk_type: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + chunk_type + payload + struct.pack(">I", zlib.crc32(chunk_type + payload))


def fix_crcs(data: bytearray) -> bytearray:
    for pos, length, _ in walk(data):
        end = pos + 8 + length
        struct.pack_into(">I", data, end, zlib.crc32(bytes(data[pos + 4 : end])))
    return data


def reindex(data: bytearray) -> bytearray:
    """Rewrite the header's index to describe the chunks actually present (CRC-valid), so that
    structural mutations get past the layout checks into the code behind them."""
    chunks = walk(data)
    if not chunks or chunks[0][2] != b"NHDR":
        return data
    head_pos, head_len, _ = chunks[0]
    try:
        head = msgpack.unpackb(bytes(data[head_pos + 8 : head_pos + 8 + head_len]), raw=False, strict_map_key=False)
    except Exception:
        return data
    if not isinstance(head, dict):
        return data
    base = head_pos + 12 + head_len
    head["index"] = [[t.decode("latin-1"), p - base, n] for p, n, t in chunks[1:]]
    return bytearray(data[:head_pos] + frame(b"NHDR", _pack(head)) + data[base:])


def _pack(obj: Any) -> bytes:
    try:
        return msgpack.packb(obj, use_bin_type=True)
    except Exception:  # e.g. an int beyond 64 bits produced by a mutation
        return msgpack.packb(None)


def _nodes(root: Any, cap: int = 5000) -> list[tuple[Any, Any, Any]]:
    """(parent, key, value) of the first `cap` nodes of a msgpack tree (breadth first, the
    root included); capped so that the fuzzer's own memory stays small."""
    out: list[tuple[Any, Any, Any]] = [(None, None, root)]
    i = 0
    while i < len(out) and len(out) < cap:
        _, _, value = out[i]
        if isinstance(value, dict):
            out += [(value, k, v) for k, v in value.items()]
        elif isinstance(value, list):
            out += [(value, k, v) for k, v in enumerate(value)]
        i += 1
    return out[:cap]


def _mutate_tree(root: Any, rng: random.Random) -> Any:
    """Change one node, picked uniformly (so a deep key such as a tensor's step is as likely
    a target as a top-level one): replace, tweak, delete, duplicate or repeat it."""
    nodes = _nodes(root)
    parent, key, value = rng.choice(nodes)
    roll = rng.random()
    # Trees may only grow while small: the fuzzer's own memory must stay far below the limit.
    grow = len(nodes) < 3000
    if isinstance(value, int) and not isinstance(value, bool) and roll < 0.4:
        new = value + rng.choice((-1, 1, -value, 1 << rng.randrange(64), 12, -12))
    elif isinstance(value, list) and value and roll < 0.3:
        i = rng.randrange(len(value))
        if roll < 0.1 or not grow:
            del value[i]
        elif roll < 0.2 or len(value) > 20:
            value.insert(i, value[i])
        else:
            value[:] = value * rng.choice((2, 40, 300))  # e.g. too many stages or index entries
        new = value
    elif parent is not None and roll < 0.1:
        del parent[key]
        return root
    elif isinstance(parent, dict) and roll < 0.15 and grow:
        parent[f"{key}_"] = value
        return root
    else:
        # A copy: the lists and maps among them would otherwise be mutated inside a tree later
        # and drift between runs, breaking the fuzzer's determinism.
        new = copy.deepcopy(rng.choice(INTERESTING_VALUES))
    if parent is None:
        return new
    parent[key] = new
    return root


# ---- mutators: each takes (data, rng, corpus) and returns new bytes ----------------------


def m_truncate(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    return d[: rng.randrange(len(d) + 1)]


def m_bitflip(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    for _ in range(rng.choice((1, 1, 2, 4))):
        if d:
            d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
    return d


def m_insert(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    at = rng.randrange(len(d) + 1)
    return d[:at] + bytearray(rng.randbytes(rng.choice((1, 2, 4, 8)))) + d[at:]


def m_delete(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    at = rng.randrange(len(d) + 1)
    return d[:at] + d[at + rng.randint(1, 16) :]


def m_length(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    chunks = walk(d)
    if chunks:
        pos, length, _ = rng.choice(chunks)
        value = rng.choice(INTERESTING_U32 + (length + 1, max(length - 1, 0), length + 12))
        struct.pack_into(">I", d, pos, value)
    return d


def m_splice(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    other = rng.choice(corpus)
    mine, theirs = walk(d), walk(other)
    if not mine or not theirs:
        return d[: rng.randrange(len(d) + 1)] + bytearray(other[rng.randrange(len(other) + 1) :])
    pos, length, _ = rng.choice(mine)
    opos, olength, _ = rng.choice(theirs)
    piece = other[opos : opos + 12 + olength]
    if rng.random() < 0.5:
        return d[:pos] + piece + d[pos + 12 + length :]  # replace a chunk
    return d[:pos] + piece + d[pos:]  # insert one


def m_header(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """A CRC-valid header whose msgpack content is mutated (the index still fits the body:
    its offsets are relative to the end of the header)."""
    chunks = walk(d)
    if not chunks or chunks[0][2] != b"NHDR":
        return m_bitflip(d, rng, corpus)
    pos, length, _ = chunks[0]
    try:
        head = msgpack.unpackb(bytes(d[pos + 8 : pos + 8 + length]), raw=False, strict_map_key=False)
    except Exception:
        return fix_crcs(m_bitflip(d, rng, corpus))
    for _ in range(rng.choice((1, 1, 2, 3))):
        head = _mutate_tree(head, rng)  # the root itself may be replaced too
    return d[:pos] + bytearray(frame(b"NHDR", _pack(head))) + d[pos + 12 + length :]


def m_chunk_data(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """Mutate one chunk's data (e.g. a zstd frame), then repair its framing and the index."""
    chunks = walk(d)[1:]
    if not chunks:
        return m_bitflip(d, rng, corpus)
    pos, length, chunk_type = rng.choice(chunks)
    payload = bytearray(d[pos + 8 : pos + 8 + length])
    mutator = rng.choice((m_bitflip, m_bitflip, m_truncate, m_insert, m_delete))
    payload = mutator(payload, rng, corpus) if payload else bytearray(rng.randbytes(rng.randint(0, 16)))
    return reindex(d[:pos] + bytearray(frame(chunk_type, bytes(payload))) + d[pos + 12 + length :])


MUTATORS: tuple[Callable[[bytearray, random.Random, list[bytes]], bytearray], ...] = (
    m_truncate, m_bitflip, m_bitflip, m_insert, m_delete, m_length, m_splice, m_header, m_header, m_header,
    m_chunk_data, m_chunk_data,
)


def mutate(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    d = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        d = rng.choice(MUTATORS)(d, rng, corpus)
    roll = rng.random()
    if roll < 0.25:
        d = fix_crcs(d)
    elif roll < 0.35:
        d = reindex(d)
    return bytes(d[: 1 << 18])  # inputs stay small; the limits are tested by lengths, not bytes


# ---- the driver --------------------------------------------------------------------------


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


def fuzz_atheris(seconds: float, seed: int, findings: Path, corpus_dir: Path | None) -> int:
    import atheris  # type: ignore[import-not-found]

    if hasattr(atheris, "instrument_all"):
        atheris.instrument_all()
    # libFuzzer adds to its corpus folder: keep that under --findings (never formats/vectors),
    # where it also carries progress over to the next run.
    work = findings / "atheris-corpus"
    work.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(load_seeds(corpus_dir)):
        (work / f"seed-{i}").write_bytes(data)

    def one_input(data: bytes) -> None:
        try:
            check(data)
        except NffError:
            pass

    atheris.Setup([sys.argv[0], f"-max_total_time={int(seconds)}", f"-seed={seed}", f"-artifact_prefix={findings}/", str(work)], one_input)
    atheris.Fuzz()
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
