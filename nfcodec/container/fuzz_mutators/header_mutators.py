"""Header mutations, each leaving the header's CRC valid: index entries rewritten, msgpack values
changed anywhere in the tree, values the decoder checks against each other or against the data
made inconsistent (`m_semantic`), and hostile msgpack (deep, enormous, malformed)."""
from __future__ import annotations

import copy
import random
import struct
from typing import Any

import msgpack

from .byte_mutators import m_bitflip
from .structure import MAX_INPUT, _pack, _stage_entries, fix_crcs, read_head, walk, with_head

INTERESTING_VALUES: tuple[Any, ...] = (
    0, 1, -1, 2, 255, 65535, 65536, 2**31, 2**32 + 7, 2**63 - 1, -(2**63), 2**64 - 1,
    0.0, -0.0, 0.1, 1e300, float("nan"), float("inf"), 2.0**-127, 2.0**-126, 2.0**64, 2.0**65,
    True, False, None, "", "x" * 65, "a\nb", "f16", "q8", "qe", "NSTG", "NEND", "NXFM", "teXt", "XTRA",
    [], {}, [[]], b"", b"\x00",
)


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
