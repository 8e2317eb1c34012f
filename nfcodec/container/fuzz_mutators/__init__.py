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

Layout: `structure` (walking, framing, the header and its index), `byte_mutators`,
`chunk_mutators`, `header_mutators` (index, values, msgpack), `zstd_mutators`, `qe_mutators`;
this module holds MUTATORS and `mutate`, and re-exports every helper the tools and tests use.
"""
from __future__ import annotations

import random

from .byte_mutators import m_bitflip, m_delete, m_insert, m_truncate
from .chunk_mutators import (
    INTERESTING_U32, m_chunk_data, m_drop, m_duplicate, m_length, m_reorder, m_splice, m_unknown_chunk,
)
from .header_mutators import (
    INTERESTING_VALUES, SEMANTIC_KEYS, hostile_msgpack, m_header, m_index, m_msgpack, m_semantic, raw_map,
)
from .qe_mutators import hostile_qe, m_qe, uvarint
from .structure import DTYPE_SIZES, MAX_INPUT, Mutator, fix_crcs, frame, read_head, reindex, walk, with_head
from .zstd_mutators import ZSTD_BLOCK, ZSTD_MAGIC, hostile_zstd, m_compression, m_zstd, rle_blocks, zstd_header

__all__ = [
    "DTYPE_SIZES", "INTERESTING_U32", "INTERESTING_VALUES", "MAX_INPUT", "MUTATORS", "Mutator", "SEMANTIC_KEYS",
    "ZSTD_BLOCK", "ZSTD_MAGIC", "fix_crcs", "frame", "hostile_msgpack", "hostile_qe", "hostile_zstd", "m_bitflip",
    "m_chunk_data", "m_compression", "m_delete", "m_drop", "m_duplicate", "m_header", "m_index", "m_insert", "m_length",
    "m_msgpack", "m_qe", "m_reorder", "m_semantic", "m_splice", "m_truncate", "m_unknown_chunk", "m_zstd", "mutate",
    "raw_map", "read_head", "reindex", "rle_blocks", "uvarint", "walk", "with_head", "zstd_header",
]


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
