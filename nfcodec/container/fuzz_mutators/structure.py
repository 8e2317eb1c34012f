"""The chunk structure of an `.nff` file as the mutators see it: walking and framing chunks,
fixing CRCs, reading and replacing the header (NHDR), rewriting its index to match the chunks
present (`reindex`), and the sizes a header declares for its stages' tensors."""
from __future__ import annotations

import random
import struct
import zlib
from typing import Any, Callable

import msgpack

from ..chunks import SIGNATURE

MAX_INPUT = 1 << 18  # mutants are cut to this: the limits are reached by declared sizes, not bytes
DTYPE_SIZES = {"f32": 4, "f16": 2, "q8": 1, "q16": 2}

Mutator = Callable[[bytearray, random.Random, list[bytes]], bytearray]


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
