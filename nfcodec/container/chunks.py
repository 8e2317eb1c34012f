"""Chunk framing: signature, chunk records, CRC-32, type classes (formats/nff.md, "Chunks")."""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from ..errors import BadSignature, ChunkChecksumError, InvalidChunkLayout, TruncatedFile

# High-bit byte catches 7-bit transports, CR LF and LF catch newline translation, 0x1A stops
# DOS `type` (the same reasoning as PNG's signature).
SIGNATURE = b"\x8bNFF\r\n\x1a\n"
CHUNK_OVERHEAD = 12  # 4-byte length + 4-byte type + 4-byte CRC

HEADER_TYPE = "NHDR"
STAGE_TYPE = "NSTG"
END_TYPE = "NEND"
# Bulky inverse-transform data (e.g. a stored permutation). Critical: a decoder that skipped it
# would silently reconstruct the wrong signal.
TRANSFORM_DATA_TYPE = "NXFM"
# Critical chunk types this version of the reader understands. An unknown type whose first
# letter is upper case must be refused; an unknown lower-case (ancillary) type may be skipped.
KNOWN_CRITICAL_TYPES = frozenset({HEADER_TYPE, STAGE_TYPE, END_TYPE, TRANSFORM_DATA_TYPE})


def is_valid_type(chunk_type: str) -> bool:
    return len(chunk_type) == 4 and chunk_type.isascii() and chunk_type.isalpha()


def is_critical(chunk_type: str) -> bool:
    return chunk_type[0].isupper()


def crc32(chunk_type: str, data: bytes | memoryview) -> int:
    return zlib.crc32(data, zlib.crc32(chunk_type.encode("ascii"))) & 0xFFFFFFFF


def frame_chunk(chunk_type: str, data: bytes) -> bytes:
    """Serialise one chunk: length (u32 BE), type, data, CRC-32 of type + data (u32 BE)."""
    if not is_valid_type(chunk_type):
        raise ValueError(f"invalid chunk type {chunk_type!r}")
    return (
        struct.pack(">I", len(data))
        + chunk_type.encode("ascii")
        + data
        + struct.pack(">I", crc32(chunk_type, data))
    )


def check_signature(buf: memoryview) -> None:
    head = bytes(buf[: len(SIGNATURE)])
    if not head:
        raise BadSignature("empty file: not an .nff file")
    if not SIGNATURE.startswith(head):
        raise BadSignature("not an .nff file (bad signature)")
    if len(head) < len(SIGNATURE):
        raise TruncatedFile("file ends inside the .nff signature")


@dataclass(frozen=True)
class ChunkView:
    """A complete, CRC-checked chunk inside a buffer."""

    type: str
    offset: int  # absolute offset of the chunk's length field
    data: memoryview

    @property
    def end(self) -> int:
        return self.offset + CHUNK_OVERHEAD + len(self.data)


def read_chunk_prefix(buf: memoryview, offset: int) -> tuple[int, str] | None:
    """Length and type of the chunk at `offset`, or None if the buffer ends before them."""
    if offset + 8 > len(buf):
        return None
    (length,) = struct.unpack_from(">I", buf, offset)
    raw_type = bytes(buf[offset + 4 : offset + 8])
    try:
        chunk_type = raw_type.decode("ascii")
    except UnicodeDecodeError:
        chunk_type = ""
    if not is_valid_type(chunk_type):
        raise InvalidChunkLayout(f"invalid chunk type {raw_type!r} at byte {offset}")
    return length, chunk_type


def read_chunk(buf: memoryview, offset: int, length: int, chunk_type: str) -> ChunkView | None:
    """The chunk at `offset` if the buffer holds all of it (CRC checked), else None."""
    end = offset + CHUNK_OVERHEAD + length
    if end > len(buf):
        return None
    data = buf[offset + 8 : offset + 8 + length]
    (stored_crc,) = struct.unpack_from(">I", buf, offset + 8 + length)
    if stored_crc != crc32(chunk_type, data):
        raise ChunkChecksumError(f"CRC mismatch in {chunk_type} chunk at byte {offset}")
    return ChunkView(chunk_type, offset, data)
