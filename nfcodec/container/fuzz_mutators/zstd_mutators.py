"""zstd payloads: frames that declare or expand to huge sizes (decompression bombs), lack a
content size, need a dictionary or a huge window (RFC 8878), and a file's stages recoded
between "none" and "zstd"."""
from __future__ import annotations

import random
import struct

from .byte_mutators import m_bitflip
from .structure import MAX_INPUT, _body, _pack, _stage_entries, _tensor_sizes, frame, read_head, reindex, walk, with_head

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_BLOCK = 1 << 17  # the largest zstd block (RFC 8878)


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
    from ...errors import NffError
    from ..tensors import decompress_at_most

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
