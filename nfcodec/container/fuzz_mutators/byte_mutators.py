"""Generic byte mutations, blind to the chunk structure: truncations, bit flips, insertions and
deletions."""
from __future__ import annotations

import random


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
