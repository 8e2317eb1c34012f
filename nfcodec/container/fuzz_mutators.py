"""Structure-aware mutations of `.nff` files, shared by the fuzzers (fuzz_reader's builtin engine,
tools/fuzz_nff.py's atheris engine).

`mutate(data, rng, corpus)` applies one to three mutations drawn from MUTATORS, each a function
(bytearray, random.Random, corpus) -> bytearray that knows the chunk structure: truncations and
bit flips; chunks reordered, duplicated, dropped, or of unknown critical and ancillary types;
lengths rewritten huge; index entries that overlap, leave holes or point past the end; a header
re-encoded with mutated values (CRC fixed), including values that mean something to the
decoder (tensor shapes, stage extents, the signal's size, the field's config, the transform);
msgpack nested deeply or holding enormous arrays and maps; zstd frames that declare or expand
to huge sizes (decompression bombs), lack a content size, need a dictionary or a huge window;
and hostile entropy-coded (`qe`) streams (formats/nff.md 6.4). After a structural change the
header's index is often rewritten to match (`reindex`) so that the mutant gets past the layout
checks into the code behind them. Deterministic for a given `rng`; inputs stay under 2^18 bytes.
"""
from __future__ import annotations

import copy
import math
import random
import struct
import zlib
from typing import Any, Callable

import msgpack
import numpy as np

from .chunks import SIGNATURE

MAX_INPUT = 1 << 18  # mutants are cut to this: the limits are reached by declared sizes, not bytes
INTERESTING_U32 = (0, 1, 7, 8, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, (1 << 20) + 1, (1 << 28) + 1, 1 << 31)
INTERESTING_VALUES: tuple[Any, ...] = (
    0, 1, -1, 2, 255, 65535, 65536, 2**31, 2**32 + 7, 2**63 - 1, -(2**63), 2**64 - 1,
    0.0, -0.0, 0.1, 1e300, float("nan"), float("inf"), 2.0**-127, 2.0**-126, 2.0**64, 2.0**65,
    True, False, None, "", "x" * 65, "a\nb", "f16", "q8", "qe", "NSTG", "NEND", "NXFM", "teXt", "XTRA",
    [], {}, [[]], b"", b"\x00",
)
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_BLOCK = 1 << 17  # the largest zstd block (RFC 8878)
DTYPE_SIZES = {"f32": 4, "f16": 2, "q8": 1, "q16": 2}

Mutator = Callable[[bytearray, random.Random, list[bytes]], bytearray]


# ---- the chunk structure ---------------------------------------------------------------------


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


def read_head(data: bytes | bytearray) -> tuple[int, int, Any] | None:
    """(offset, data length, unpacked msgpack) of the NHDR chunk, if it unpacks."""
    chunks = walk(data)
    if not chunks or chunks[0][2] != b"NHDR":
        return None
    pos, length, _ = chunks[0]
    try:
        head = msgpack.unpackb(bytes(data[pos + 8 : pos + 8 + length]), raw=False, strict_map_key=False)
    except Exception:
        return None
    return pos, length, head


def with_head(data: bytes | bytearray, head_bytes: bytes) -> bytearray:
    """`data` with its NHDR chunk's data replaced (CRC fixed)."""
    chunks = walk(data)
    pos, length, _ = chunks[0]
    return bytearray(data[:pos] + frame(b"NHDR", head_bytes) + data[pos + 12 + length :])


def reindex(data: bytearray) -> bytearray:
    """Rewrite the header's index to describe the chunks actually present (CRC-valid), so that
    structural mutations get past the layout checks into the code behind them."""
    parsed = read_head(data)
    if parsed is None or not isinstance(parsed[2], dict):
        return data
    head_pos, head_len, head = parsed
    chunks = walk(data)
    base = head_pos + 12 + head_len
    head["index"] = [[t.decode("latin-1"), p - base, n] for p, n, t in chunks[1:]]
    return with_head(data, _pack(head))


def _pack(obj: Any) -> bytes:
    try:
        return msgpack.packb(obj, use_bin_type=True)
    except Exception:  # e.g. an int beyond 64 bits produced by a mutation
        return msgpack.packb(None)


def _body(data: bytearray) -> tuple[int, int, list[bytes]] | None:
    """(start, end, chunks) of the complete chunks after NHDR, each with its framing."""
    chunks = walk(data)
    if len(chunks) < 2:
        return None
    start = chunks[1][0]
    end = chunks[-1][0] + 12 + chunks[-1][1]
    return start, end, [bytes(data[p : p + 12 + n]) for p, n, _ in chunks[1:]]


def _stage_entries(head: Any) -> list[dict[str, Any]]:
    stages = head.get("stages") if isinstance(head, dict) else None
    return [s for s in stages if isinstance(s, dict)] if isinstance(stages, list) else []


def _tensor_sizes(stage: dict[str, Any]) -> list[int] | None:
    """Bytes of each tensor of a stage entry in its payload, or None if the entry is garbled."""
    tensors = stage.get("tensors")
    if not isinstance(tensors, list):
        return None
    sizes = []
    for t in tensors:
        if not isinstance(t, dict) or not isinstance(t.get("shape"), list) or not isinstance(t.get("dtype"), str):
            return None
        if t["dtype"] == "qe":
            n = t.get("bytes")
        elif t["dtype"] not in DTYPE_SIZES:
            return None
        else:
            numel = 1
            for dim in t["shape"]:
                if not isinstance(dim, int) or not 0 <= dim <= 1 << 26:
                    return None
                numel *= dim
            n = numel * DTYPE_SIZES[t["dtype"]]
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 1 << 28:
            return None
        sizes.append(n)
    return sizes


# ---- generic byte mutations ---------------------------------------------------------------------


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


# ---- chunks: lengths, order, duplicates, unknown types -----------------------------------------


def m_length(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """A chunk's length field rewritten (huge, off by one, ...); the CRC no longer frames it."""
    chunks = walk(d)
    if chunks:
        pos, length, _ = rng.choice(chunks)
        value = rng.choice(INTERESTING_U32 + (length + 1, max(length - 1, 0), length + 12))
        struct.pack_into(">I", d, pos, value)
    return d


def m_splice(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    other = rng.choice(corpus) if corpus else bytes(d)
    mine, theirs = walk(d), walk(other)
    if not mine or not theirs:
        return d[: rng.randrange(len(d) + 1)] + bytearray(other[rng.randrange(len(other) + 1) :])
    pos, length, _ = rng.choice(mine)
    opos, olength, _ = rng.choice(theirs)
    piece = other[opos : opos + 12 + olength]
    if rng.random() < 0.5:
        return d[:pos] + piece + d[pos + 12 + length :]  # replace a chunk
    return d[:pos] + piece + d[pos:]  # insert one


def _rearranged(d: bytearray, rng: random.Random, change: Callable[[list[bytes]], None]) -> bytearray:
    body = _body(d)
    if body is None:
        return m_bitflip(d, rng, [])
    start, end, pieces = body
    change(pieces)
    out = d[:start] + bytearray(b"".join(pieces)) + d[end:]
    return reindex(out) if rng.random() < 0.6 else out


def m_reorder(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """Two chunks after the header swap places (e.g. a stage after NEND, NXFM after a stage)."""
    def swap(pieces: list[bytes]) -> None:
        if len(pieces) >= 2:
            i, j = rng.sample(range(len(pieces)), 2)
            pieces[i], pieces[j] = pieces[j], pieces[i]

    return _rearranged(d, rng, swap)


def m_duplicate(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """A chunk appears twice (a second NXFM, NEND or stage)."""
    def dup(pieces: list[bytes]) -> None:
        piece = rng.choice(pieces)
        pieces.insert(rng.randrange(len(pieces) + 1), piece)

    return _rearranged(d, rng, dup)


def m_drop(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """A chunk goes missing (a stage, NXFM, NEND)."""
    return _rearranged(d, rng, lambda pieces: pieces.pop(rng.randrange(len(pieces))))


def _chunk_type(rng: random.Random) -> bytes:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    roll = rng.random()
    if roll < 0.4:
        return rng.choice((b"XTRA", b"NSTg", b"Nstg", b"NHDR", b"NXFM", b"NEND", b"NSTG", b"nSTG", b"teXt", b"srch", b"zzzz",
                           b"nEND"))
    first = rng.choice(letters[:26] if roll < 0.7 else letters[26:])
    return (first + "".join(rng.choice(letters) for _ in range(3))).encode("ascii")


def m_unknown_chunk(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """A chunk of an unknown critical (upper-case first letter) or ancillary (lower-case) type,
    or a known type in the wrong place, inserted after the header (usually listed in the index)."""
    chunks = walk(d)
    if not chunks:
        return m_bitflip(d, rng, corpus)
    payload = rng.choice((b"", b"note", bytes(rng.randrange(64)), hostile_zstd(rng, rng.randrange(256))))
    pos = rng.choice([p for p, _, _ in chunks[1:]] + [chunks[-1][0] + 12 + chunks[-1][1]])
    out = d[:pos] + bytearray(frame(_chunk_type(rng), payload)) + d[pos:]
    return reindex(out) if rng.random() < 0.8 else out


# ---- the header: index, values, msgpack ------------------------------------------------------------


def m_index(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """An index entry whose offset or length is rewritten: overlapping the previous chunk,
    leaving a hole, pointing past the end, huge or negative; or entries swapped, repeated or
    dropped. The CRC of the header is valid."""
    parsed = read_head(d)
    head = parsed[2] if parsed is not None else None
    if not isinstance(head, dict) or not isinstance(head.get("index"), list) or not head["index"]:
        return m_header(d, rng, corpus)
    index = head["index"]
    i = rng.randrange(len(index))
    entry = index[i]
    roll = rng.random()
    if roll < 0.15 and len(index) >= 2:
        j = rng.randrange(len(index))
        index[i], index[j] = index[j], index[i]
    elif roll < 0.25:
        index.insert(i, copy.deepcopy(entry))
    elif roll < 0.3:
        del index[i]
    elif isinstance(entry, list) and len(entry) == 3 and all(isinstance(v, int) for v in entry[1:]):
        last = index[-1] if isinstance(index[-1], list) and len(index[-1]) == 3 and isinstance(index[-1][1], int) else [0, 0, 0]
        end = last[1] + 12 + (last[2] if isinstance(last[2], int) else 0)
        offset, length = entry[1], entry[2]
        if rng.random() < 0.5:
            entry[1] = rng.choice((offset - 1, offset + 1, offset - 12, max(0, offset - 12 - length), offset + 12 + length,
                                   end, end + 1, 1 << 28, 1 << 31, 1 << 32, (1 << 63) - 1, -1, 0))
        else:
            entry[2] = rng.choice((length - 1, length + 1, 0, end, end + 1, 1 << 28, (1 << 28) + 1, (1 << 32) - 1, 1 << 32, -1))
        if rng.random() < 0.5:  # keep the later entries contiguous after the change
            rel = entry[1] + 12 + entry[2]
            for later in index[i + 1 :]:
                if isinstance(later, list) and len(later) == 3 and isinstance(later[2], int):
                    later[1] = rel
                    rel += 12 + later[2]
    else:
        index[i] = rng.choice((["NSTG", 0], ["NSTG", 0, 0, 0], "NSTG", ["NSTG", "0", 8], ["NSTG", 0.0, 8], [1, 0, 8],
                               ["N\u00c9ND", 0, 0]))
    return with_head(d, _pack(head))


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


def m_header(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """A CRC-valid header whose msgpack content is mutated (the index still fits the body:
    its offsets are relative to the end of the header)."""
    parsed = read_head(d)
    if parsed is None:
        return fix_crcs(m_bitflip(d, rng, corpus)) if walk(d) and walk(d)[0][2] == b"NHDR" else m_bitflip(d, rng, corpus)
    head = parsed[2]
    for _ in range(rng.choice((1, 1, 2, 3))):
        head = _mutate_tree(head, rng)  # the root itself may be replaced too
    return with_head(d, _pack(head))


def _near(value: Any, rng: random.Random, lo: int = 0, hi: int = 1 << 26) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return rng.choice((0, 1, 2, 3, hi))
    return rng.choice((value - 1, value + 1, value * 2, value // 2, 0, lo, hi, hi + 1, value + 7, 1 << 15, (1 << 15) + 1))


def _semantic(key: Any, value: Any, parent: Any, rng: random.Random) -> Any:
    """A value for `key` that the decoder must check against something else: shapes that do
    not match the data, extents outside the signal, a signal or a field too large, ids that
    do not match names, transform parameters out of range."""
    if key == "shape" and isinstance(value, list):
        dims = list(value)
        roll = rng.random()
        if roll < 0.3 and dims:
            i = rng.randrange(len(dims))
            dims[i] = _near(dims[i], rng)
        elif roll < 0.45:
            dims.append(rng.choice((1, 2, 3)))
        elif roll < 0.6 and dims:
            dims.pop(rng.randrange(len(dims)))
        elif roll < 0.75:
            dims = dims[::-1]
        else:
            dims = [rng.choice((1 << 13, 1 << 14, (1 << 15) + 1, 3, 1 << 16)) for _ in dims or [0, 0]]
        return dims
    if key == "extent":
        n = rng.choice((1, 2, 3, 4))
        top = rng.choice((1, 2, 8, 40, 48, 1 << 15, 1 << 26))
        pairs = []
        for _ in range(n):
            start = rng.choice((0, 0, 1, top - 1, top))
            pairs.append([start, rng.choice((start + 1, top, top + 1, start, max(start - 1, 0)))])
        return pairs
    if key == "width":
        return _near(value, rng, 0, 1 << 31)
    if key == "dtype":
        return rng.choice(("f32", "f16", "q8", "q16", "qe", "f64", "i8"))
    if key == "step":
        return rng.choice((1.0, 0.5, 2.0**-126, 2.0**64, 2.0**-7, 3.0, 1e-45, 1, 0.1))
    if key == "bytes":
        return _near(value, rng, 1, 1 << 28)
    if key in ("channels", "bit_depth", "out_dim", "in_dim", "hidden_layers", "n_levels", "n_features",
               "log2_hashmap_size", "base_resolution", "resolution", "id", "seed", "data_bytes", "schema_version",
               "triangles"):
        if isinstance(value, list):
            return [_near(v, rng) for v in value] if rng.random() < 0.5 else value[:-1]
        return _near(value, rng, 0, rng.choice((4, 8, 16, 32, 26, 1024, 2048, 1 << 16, 1 << 26, 1 << 28)))
    if key in ("mlp_widths",) and isinstance(value, list):
        return rng.choice((value[::-1], value + [value[-1] if value else 1], [1024] * len(value), [0] * len(value), value[:-1]))
    if key in ("per_level_scale", "omega", "fps", "scale", "offset", "gamma", "mean", "std", "box", "centre"):
        pick = rng.choice((0.0, -1.0, 1.0, 16.0, 16.5, 1e4, 1e30, 1e-30, 0.5, 2.0**-150, 1001.0, 7))
        return [pick] * len(value) if isinstance(value, list) else pick
    if key in ("modality", "arch", "name", "schema", "color", "coords", "sdf", "compression"):
        return rng.choice(("image", "video", "shape", "test", "grid", "siren", "identity", "invert", "rpp", "ordered",
                           "affine", "gamma", "standardise", "zstd", "none", "negative-inside", "sample-centre", "rgb", ""))
    return copy.deepcopy(rng.choice(INTERESTING_VALUES))


SEMANTIC_KEYS = frozenset((
    "shape", "extent", "width", "dtype", "step", "bytes", "channels", "bit_depth", "out_dim", "in_dim", "hidden_layers",
    "n_levels", "n_features", "log2_hashmap_size", "base_resolution", "resolution", "id", "seed", "data_bytes",
    "schema_version", "triangles", "mlp_widths", "per_level_scale", "omega", "fps", "scale", "offset", "gamma", "mean",
    "std", "box", "centre", "modality", "arch", "name", "schema", "color", "coords", "sdf", "compression",
))


def m_semantic(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """A CRC-valid, well-formed header whose values are inconsistent with each other or with
    the data: tensor shapes that do not match the field or the bytes, stage extents out of
    range, a signal or field description out of bounds, mismatched ids, a stage extent added."""
    parsed = read_head(d)
    if parsed is None or not isinstance(parsed[2], dict):
        return m_header(d, rng, corpus)
    head = parsed[2]
    for _ in range(rng.choice((1, 1, 1, 2))):
        nodes = [(p, k, v) for p, k, v in _nodes(head) if isinstance(p, dict) and k in SEMANTIC_KEYS]
        stages = _stage_entries(head)
        if stages and rng.random() < 0.15:  # a stage that covers part of the signal
            stage = rng.choice(stages)
            stage["extent"] = _semantic("extent", None, stage, rng)
        elif nodes:
            parent, key, value = rng.choice(nodes)
            parent[key] = _semantic(key, value, parent, rng)
    return with_head(d, _pack(head))


def raw_map(items: list[tuple[bytes, bytes]]) -> bytes:
    """A msgpack map from already-packed keys and values (so that a value can be anything,
    including what msgpack.packb would never write)."""
    n = len(items)
    head = bytes([0x80 | n]) if n < 16 else (b"\xde" + struct.pack(">H", n) if n < 1 << 16 else b"\xdf" + struct.pack(">I", n))
    return head + b"".join(k + v for k, v in items)


def hostile_msgpack(rng: random.Random) -> bytes:
    """A msgpack value a header must refuse or survive: nested deeply (just within and past
    16 levels, and far beyond msgpack's own stack), enormous arrays and maps (at and past the
    limits), duplicate or non-string keys, bin and ext values, lengths that promise more than
    the data holds."""
    kind = rng.randrange(11)
    if kind == 0:
        depth = rng.choice((14, 15, 16, 17, 40, 5000, 100_000))
        return b"\x91" * depth + b"\xc0"
    if kind == 1:
        depth = rng.choice((15, 16, 17, 300))
        return b"\x81\xa1k" * depth + b"\xc0"
    if kind == 2:
        n = rng.choice((65535, 65536, 65537))
        return b"\xdd" + struct.pack(">I", n) + b"\xc0" * n
    if kind == 3:
        n = rng.choice((4095, 4096, 4097))
        return b"\xde" + struct.pack(">H", n) + b"".join(msgpack.packb(f"k{i}") + b"\xc0" for i in range(n))
    if kind == 4:  # many small containers: a big object count from few bytes
        return b"\xdc" + struct.pack(">H", 16384) + b"\x90" * 16384
    if kind == 5:
        return rng.choice((b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff", b"\xc6\x7f\xff\xff\xff"))
    if kind == 6:
        return b"\x82\xa1a\x01\xa1a\x02"  # a duplicate key
    if kind == 7:
        return rng.choice((b"\x81\x01\x02", b"\x81\xc0\x02", b"\x81\x91\x01\x02"))  # non-string keys
    if kind == 8:
        return rng.choice((b"\xc4\x00", b"\xc4\x03abc", b"\xd6\xff\x00\x00\x00\x00", b"\xc7\x00\x05", b"\xd4\x01\x00"))
    if kind == 9:
        return rng.choice((b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", b"\xca\x7f\x80\x00\x00", b"\xa2\xff\xfe", b"\xc1"))
    return b"\xda\xff\xff" + b"a" * rng.choice((10, 65535))  # a string shorter than its length, or long


def m_msgpack(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """A hostile msgpack value placed in the header: the value of a new or a required
    top-level key, or a new key of a map the decoder reads (signal, field.config,
    transform.params, encoder)."""
    parsed = read_head(d)
    if parsed is None or not isinstance(parsed[2], dict):
        return m_header(d, rng, corpus)
    head = parsed[2]
    bomb = hostile_msgpack(rng)
    inner = [k for k in ("signal", "encoder", "field", "transform") if isinstance(head.get(k), dict)]
    items = [(_pack(k), _pack(v)) for k, v in head.items()]
    target = rng.choice(inner + [None, None])
    if target is None:  # a new key, or the value of a key the reader needs
        packed = _pack(rng.choice(("x", "signal", "stages", "index", "version")))
        if any(k == packed for k, _ in items):
            items = [(k, bomb if k == packed else v) for k, v in items]
        else:
            items.insert(rng.randrange(len(items) + 1), (packed, bomb))
    else:
        sub = head[target]
        if target in ("field", "transform"):
            leaf = "config" if target == "field" else "params"
            value = sub.get(leaf) if isinstance(sub.get(leaf), dict) else {}
            leaf_items = [(_pack(k), _pack(v)) for k, v in value.items()] + [(_pack("x"), bomb)]
            sub_items = [(_pack(k), _pack(v)) for k, v in sub.items() if k != leaf] + [(_pack(leaf), raw_map(leaf_items))]
        else:
            sub_items = [(_pack(k), _pack(v)) for k, v in sub.items()] + [(_pack(rng.choice(("x", "shape"))), bomb)]
        items = [(k, raw_map(sub_items) if k == _pack(target) else v) for k, v in items]
    return with_head(d, raw_map(items)[: MAX_INPUT])


# ---- zstd: bombs and malformed frames -------------------------------------------------------------


def zstd_header(content_size: int | None, window_log: int | None = None, dict_id: int = 0, checksum: bool = False) -> bytes:
    """A zstd frame header (RFC 8878 3.1.1.1): content size (None: absent), a window descriptor
    (None: single segment, the window is the content size), a dictionary id."""
    single = window_log is None and content_size is not None
    if content_size is None:
        fcs_flag, fcs = 0, b""
    elif content_size < 256 and single:
        fcs_flag, fcs = 0, bytes([content_size])
    elif 256 <= content_size < 65536 + 256:
        fcs_flag, fcs = 1, struct.pack("<H", content_size - 256)
    elif content_size < 1 << 32:
        fcs_flag, fcs = 2, struct.pack("<I", content_size)
    else:
        fcs_flag, fcs = 3, struct.pack("<Q", content_size & (2**64 - 1))
    did_flag, did = (0, b"") if not dict_id else (3, struct.pack("<I", dict_id))
    descriptor = fcs_flag << 6 | int(single) << 5 | int(checksum) << 2 | did_flag
    window = b"" if single else bytes([((window_log or 10) - 10) << 3])
    return ZSTD_MAGIC + bytes([descriptor]) + window + did + fcs


def rle_blocks(total: int, byte: int = 0) -> bytes:
    """RLE blocks producing `total` copies of `byte` (at least one block): 4 bytes per 128 KiB."""
    out = bytearray()
    remaining = total
    while True:
        size = min(remaining, ZSTD_BLOCK)
        remaining -= size
        last = remaining == 0
        out += (int(last) | 1 << 1 | size << 3).to_bytes(3, "little") + bytes([byte])
        if last:
            return bytes(out)


def hostile_zstd(rng: random.Random, raw_size: int) -> bytes:
    """A zstd frame for a payload of `raw_size` bytes that a reader must refuse (or accept
    and bound): a declared size above raw_size (up to 2^64 - 1), a frame that declares
    raw_size but expands to far more (a lying bomb), no content size, a huge window, a
    dictionary, a skippable frame, a bad checksum, trailing data; or a legitimate RLE frame
    of exactly raw_size zeros (a bomb within the declared size)."""
    kind = rng.randrange(10)
    extra = rng.choice((1, ZSTD_BLOCK, 1 << 24, 1 << 30))
    if kind == 0:
        declared = raw_size + rng.choice((1, 1 << 20, 1 << 32, 1 << 40, 2**64 - 2 - raw_size))
        return zstd_header(declared, window_log=rng.choice((None, 20))) + rle_blocks(min(declared, 1 << 20))
    if kind == 1:  # declares raw_size, expands to raw_size + extra
        return zstd_header(raw_size, window_log=rng.choice((None, 17, 27))) + rle_blocks(raw_size + extra)
    if kind == 2:
        return zstd_header(None, window_log=rng.choice((10, 20, 27))) + rle_blocks(raw_size + rng.choice((0, 0, extra)))
    if kind == 3:
        return zstd_header(raw_size, window_log=rng.choice((27, 28, 31, 41))) + rle_blocks(raw_size)
    if kind == 4:
        return zstd_header(raw_size, dict_id=rng.choice((1, 0xFFFFFFFF))) + rle_blocks(raw_size)
    if kind == 5:  # a skippable frame, then perhaps the real one
        skippable = struct.pack("<II", 0x184D2A50 + rng.randrange(16), 4) + b"skip"
        return skippable + (zstd_header(raw_size) + rle_blocks(raw_size)) * rng.randrange(2)
    if kind == 6:
        return zstd_header(raw_size, checksum=True) + rle_blocks(raw_size) + struct.pack("<I", rng.getrandbits(32))
    if kind == 7:
        good = zstd_header(raw_size) + rle_blocks(raw_size)
        return good + rng.choice((b"\x00", good, ZSTD_MAGIC))
    if kind == 8:  # short of what it declares
        return zstd_header(raw_size + 1) + rle_blocks(raw_size)
    return zstd_header(raw_size, window_log=rng.choice((None, 20))) + rle_blocks(raw_size, rng.choice((0, 0, 0x7F, 0xFF)))


def m_zstd(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """A stage, NXFM or ancillary chunk whose data becomes a hostile zstd frame sized from what
    the header declares for it; the header says "zstd" (so the frame is read) and the index is
    rewritten to match."""
    parsed = read_head(d)
    chunks = walk(d)[1:]
    if parsed is None or not isinstance(parsed[2], dict) or not chunks:
        return m_bitflip(d, rng, corpus)
    head = parsed[2]
    pos, length, chunk_type = rng.choice(chunks)
    stage_chunks = [c for c in chunks if c[2] == b"NSTG"]
    raw_size = length
    if chunk_type == b"NSTG":
        k = stage_chunks.index((pos, length, chunk_type))
        stages = _stage_entries(head)
        sizes = _tensor_sizes(stages[k]) if k < len(stages) else None
        raw_size = sum(sizes) if sizes is not None else length
        if rng.random() < 0.9:
            head["compression"] = "zstd"
    elif chunk_type == b"NXFM":
        params = head.get("transform", {}).get("params") if isinstance(head.get("transform"), dict) else None
        declared = params.get("data_bytes") if isinstance(params, dict) else None
        raw_size = declared if isinstance(declared, int) and 0 <= declared <= 1 << 28 else length
    data = hostile_zstd(rng, raw_size)
    out = with_head(d, _pack(head))
    shift = len(out) - len(d)
    pos += shift
    out = out[:pos] + bytearray(frame(chunk_type, data)) + out[pos + 12 + length :]
    return reindex(out)[:MAX_INPUT]


def _unzstd(data: bytes) -> bytes | None:
    """A chunk's zstd payload, if it is one of at most MAX_INPUT bytes (the fuzzer must not
    inflate the bombs it makes)."""
    from ..errors import NffError
    from .tensors import decompress_at_most

    try:
        return decompress_at_most(data, MAX_INPUT, "fuzz")
    except NffError:
        return None


def m_compression(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """Switch the file between "none" and "zstd", recoding every stage chunk (real frames), so
    that the mutations of either kind of payload start from both kinds of seed."""
    import zstandard

    parsed = read_head(d)
    if parsed is None or not isinstance(parsed[2], dict):
        return m_bitflip(d, rng, corpus)
    head = parsed[2]
    to_zstd = head.get("compression") != "zstd"
    head["compression"] = "zstd" if to_zstd else "none"
    out = with_head(d, _pack(head))
    pieces = []
    body = _body(out)
    if body is None:
        return out
    start, end, chunks = body
    for piece in chunks:
        data = piece[8:-4]
        if piece[4:8] == b"NSTG":
            if to_zstd:
                data = zstandard.ZstdCompressor(level=1, write_content_size=True).compress(data)
            else:
                data = _unzstd(data) or data
        pieces.append(frame(piece[4:8], data))
    return reindex(out[:start] + bytearray(b"".join(pieces)) + out[end:])[:MAX_INPUT]


# ---- entropy-coded (qe) streams ---------------------------------------------------------------------


def uvarint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 42) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def hostile_qe(rng: random.Random, count: int) -> bytes:
    """A `qe` stream for `count` codes built field by field (formats/nff.md 6.4), with values
    at and past every bound: unknown kinds, alphabets of 0, 1, max(256, 4N) and one more, |code|
    near 2^30, centres and thetas out of range, table shifts above 24, weights at 2^38, overlong
    or 6-byte varints, partial words, a zero last word, leftover or random words; or a real
    stream of random codes from the reference writer, perhaps cut or extended."""
    from . import entropy

    roll = rng.random()
    if roll < 0.3:
        n_sym = rng.choice((2, 3, 17, 256))
        codes = np.array([rng.randrange(n_sym) - n_sym // 2 for _ in range(min(count, 4096))] or [0], dtype=np.int64)
        stream = entropy.encode_symbols(codes)
        cut = rng.random()
        if cut < 0.3:
            return stream
        if cut < 0.5:
            return stream[: rng.randrange(len(stream) + 1)]
        if cut < 0.7:
            return stream + rng.choice((b"\x00\x00\x00\x00", b"\x01\x00\x00\x00", b"\x00", bytes(rng.randrange(9))))
        flipped = bytearray(stream)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        return bytes(flipped)
    limit = min(entropy.MAX_ALPHABET, max(256, 4 * count))
    kind = rng.choice((0, 1, 2, 2, 1, 3, 255))
    n = rng.choice((0, 1, 2, 3, limit, limit + 1, 65536, 65537, 1 << 35))
    lo = rng.choice((0, -1, 1, -(n // 2), -(1 << 30), (1 << 30) - n + 1, 1 << 30, -(1 << 30) - 1, 1 << 34))
    out = bytearray([kind])
    out += uvarint(_zigzag(lo)) if rng.random() < 0.9 else b"\x80\x80\x80\x80\x80\x01"  # 6 bytes
    out += uvarint(n) if rng.random() < 0.9 else b"\x82\x80\x80\x80\x00"  # overlong, valid
    if kind == 1:
        out += uvarint(rng.choice((0, n // 2, max(n - 1, 0), n, 1 << 34)))
        out.append(rng.choice((0, 1, 128, 255)))
    elif kind == 2:
        out.append(rng.choice((0, 1, 24, 25, 255)))
        shift = out[-1]
        weights = rng.choice(("zero", "one", "peak", "huge", "random"))
        for i in range(min(n, 4096)):
            if weights == "zero":
                w = 0
            elif weights == "one":
                w = 1
            elif weights == "peak":
                w = 1 << 20 if i == 0 else 0
            elif weights == "huge":
                w = (1 << (38 - min(shift, 38))) - rng.choice((0, 1))
            else:
                w = rng.getrandbits(rng.choice((1, 8, 20)))
            out += uvarint(w)
    words = rng.choice((0, 1, 2, 3, 8))
    for i in range(words):
        word = rng.choice((0, 1, 0xFFFFFFFF, 1 << 31, rng.getrandbits(32)))
        if i == words - 1 and rng.random() < 0.7:
            word |= 1  # a non-zero last word, as a writer ends
        out += struct.pack("<I", word)
    if rng.random() < 0.15:
        out += bytes(rng.randrange(1, 4))  # a partial word
    return bytes(out)


def m_qe(d: bytearray, rng: random.Random, corpus: list[bytes]) -> bytearray:
    """One tensor of a stage becomes a hostile `qe` stream (an existing qe tensor, or a q8 /
    q16 / f16 / f32 one converted): the payload is rebuilt around it (zstd recompressed when the
    file is), the tensor entry's `bytes` and the version updated (or, sometimes, left wrong),
    and the index rewritten."""
    import zstandard

    parsed = read_head(d)
    if parsed is None or not isinstance(parsed[2], dict):
        return m_bitflip(d, rng, corpus)
    head = parsed[2]
    stages = _stage_entries(head)
    chunks = walk(d)
    stage_chunks = [c for c in chunks[1:] if c[2] == b"NSTG"]
    candidates = [k for k in range(min(len(stages), len(stage_chunks))) if _tensor_sizes(stages[k])]
    if not candidates:
        return m_semantic(d, rng, corpus)
    k = rng.choice(candidates)
    stage, (pos, length, _) = stages[k], stage_chunks[k]
    sizes = _tensor_sizes(stage)
    assert sizes is not None
    data = bytes(d[pos + 8 : pos + 8 + length])
    zstd = head.get("compression") == "zstd"
    if zstd:
        data = _unzstd(data)
        if data is None:
            return m_zstd(d, rng, corpus)
    if len(data) != sum(sizes):
        return m_semantic(d, rng, corpus)
    offsets = np.cumsum([0] + sizes).tolist()
    pieces = [data[a:b] for a, b in zip(offsets, offsets[1:])]
    i = rng.randrange(len(pieces))
    spec = stage["tensors"][i]
    dims = spec["shape"]
    count = math.prod(dims) if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in dims) else 1
    if rng.random() < 0.1:  # a count the stream was not written for
        spec["shape"] = [rng.choice((0, 1, count + 1, 1 << 20, 1 << 26))]
    pieces[i] = hostile_qe(rng, count)
    spec["dtype"] = "qe"
    spec["bytes"] = len(pieces[i]) + (0 if rng.random() < 0.9 else rng.choice((-1, 1)))
    if not isinstance(spec.get("step"), float):
        spec["step"] = rng.choice((2.0**-7, 1.0, 0.5))
    head["version"] = [1, 1]
    payload = b"".join(pieces)
    if zstd:
        payload = zstandard.ZstdCompressor(level=1, write_content_size=True).compress(payload)
    out = with_head(d, _pack(head))
    pos += len(out) - len(d)
    out = out[:pos] + bytearray(frame(b"NSTG", payload)) + out[pos + 12 + length :]
    return reindex(out)[:MAX_INPUT]


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


MUTATORS: tuple[Mutator, ...] = (
    m_truncate, m_bitflip, m_bitflip, m_insert, m_delete, m_length, m_splice,
    m_reorder, m_duplicate, m_drop, m_unknown_chunk,
    m_index, m_header, m_header, m_semantic, m_semantic, m_semantic, m_msgpack,
    m_zstd, m_zstd, m_compression, m_qe, m_qe, m_chunk_data, m_chunk_data,
)


def mutate(data: bytes, rng: random.Random, corpus: list[bytes], max_size: int = MAX_INPUT) -> bytes:
    """One to three structure-aware mutations of `data`; CRCs or the index sometimes repaired
    afterwards. Deterministic for a given `rng` state."""
    d = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        mutator = rng.choice(MUTATORS)
        try:
            d = mutator(d, rng, corpus)
        except Exception:  # noqa: BLE001 -- a mutator's own bug must not end a campaign (the tests run them bare)
            d = m_bitflip(d, rng, corpus)
    roll = rng.random()
    if roll < 0.25:
        d = fix_crcs(d)
    elif roll < 0.35:
        d = reindex(d)
    return bytes(d[: min(max_size, MAX_INPUT)])
