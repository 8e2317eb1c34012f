"""Chunk mutations: lengths rewritten, chunks spliced from other inputs, reordered, duplicated,
dropped or of unknown types, and a chunk's data mutated with its framing repaired."""
from __future__ import annotations

import random
import struct
from typing import Callable

from .byte_mutators import m_bitflip, m_delete, m_insert, m_truncate
from .structure import _body, frame, reindex, walk
from .zstd_mutators import hostile_zstd

INTERESTING_U32 = (0, 1, 7, 8, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, (1 << 20) + 1, (1 << 28) + 1, 1 << 31)


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
