"""Entropy-coded (`qe`) streams (formats/nff.md 6.4): hostile streams built field by field or cut
from real ones, put in place of a stage's tensor."""
from __future__ import annotations

import math
import random
import struct

import numpy as np

from .byte_mutators import m_bitflip
from .header_mutators import m_semantic
from .structure import MAX_INPUT, _pack, _stage_entries, _tensor_sizes, frame, read_head, reindex, walk, with_head
from .zstd_mutators import _unzstd, m_zstd


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
    from .. import entropy

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
