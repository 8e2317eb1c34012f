"""Read a `.nff` file (or any prefix of one) into a validated NffFile.

Every file is hostile: checks run cheapest first (signature, header size cap, CRC, schema,
index), and nothing is allocated or decompressed beyond what the validated header implies.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidChunkLayout, InvalidHeader, LimitExceeded, TruncatedFile
from . import limits
from .chunks import (
    CHUNK_OVERHEAD,
    END_TYPE,
    HEADER_TYPE,
    SIGNATURE,
    STAGE_TYPE,
    TRANSFORM_DATA_TYPE,
    ChunkView,
    check_signature,
    read_chunk,
    read_chunk_prefix,
)
from .header import Header, unpack_header
from .tensors import decompress_exact, unpack_stage


@dataclass(frozen=True)
class NffFile:
    """A validated file or prefix. `chunks` holds every complete chunk after the header."""

    header: Header
    chunks: tuple[ChunkView, ...]
    complete: bool  # NEND present and nothing missing

    @property
    def stages_available(self) -> int:
        return sum(1 for c in self.chunks if c.type == STAGE_TYPE)

    @property
    def stages_total(self) -> int:
        return len(self.header.stages)

    def stage_tensors(self, index: int) -> dict[str, np.ndarray]:
        """Decoded tensors of stage `index` (1-based); the stage must be available."""
        if not 1 <= index <= self.stages_available:
            raise ValueError(f"stage {index} is not available")
        stage = self.header.stages[index - 1]
        data = [c for c in self.chunks if c.type == STAGE_TYPE][index - 1].data
        return unpack_stage(stage, data, self.header.compression)

    def transform_data(self, max_bytes: int | None = None) -> bytes | None:
        """The decompressed NXFM chunk, or None if the file has none.

        `max_bytes` lets a caller that knows how much its transform can legitimately need
        (e.g. 4 bytes per pixel) refuse a larger declared size before anything is decompressed.
        Raises TruncatedFile if the chunk is listed but not (completely) present."""
        ref = self.header.transform_data
        if ref is None:
            return None
        expected = self.header.transform_data_bytes
        assert expected is not None  # the header validator sets both or neither
        if max_bytes is not None and expected > max_bytes:
            raise InvalidHeader(f"header.transform.params: data_bytes = {expected}, at most {max_bytes} expected")
        chunk = next((c for c in self.chunks if c.type == TRANSFORM_DATA_TYPE), None)
        if chunk is None:
            raise TruncatedFile("truncated file: the transform data (NXFM) chunk is missing")
        return decompress_exact(chunk.data, expected, "transform data (NXFM)")

    def ancillary(self, chunk_type: str) -> list[memoryview]:
        return [c.data for c in self.chunks if c.type == chunk_type]


def _bytes_view(data: bytes | bytearray | memoryview) -> memoryview:
    # Index by byte even if handed a memoryview of wider items (e.g. of an int32 array).
    buf = memoryview(data)
    return buf if buf.format == "B" and buf.ndim == 1 else buf.cast("B")


def read_header(data: bytes | bytearray | memoryview) -> Header:
    """Validate the signature and the header chunk. Needs only the file's first bytes:
    raises TruncatedFile if `data` ends before the header chunk does."""
    buf = _bytes_view(data)
    check_signature(buf)
    prefix = read_chunk_prefix(buf, len(SIGNATURE))
    if prefix is None:
        raise TruncatedFile("file ends before the header chunk")
    length, chunk_type = prefix
    if chunk_type != HEADER_TYPE:
        raise InvalidChunkLayout(f"first chunk is {chunk_type}, expected {HEADER_TYPE}")
    if length > limits.MAX_HEADER_BYTES:
        raise LimitExceeded(f"header chunk of {length} bytes > {limits.MAX_HEADER_BYTES}")
    chunk = read_chunk(buf, len(SIGNATURE), length, chunk_type)
    if chunk is None:
        raise TruncatedFile(f"file ends inside the header chunk ({len(buf)} of {len(SIGNATURE) + CHUNK_OVERHEAD + length} bytes)")
    return unpack_header(chunk.data, chunk.end)


def header_bytes_needed(data: bytes | bytearray | memoryview) -> int | None:
    """How many leading bytes hold the whole header, once the first 16 are known (for streaming).

    None means "not known yet": `data` is shorter than 16 bytes but could still start a file."""
    buf = _bytes_view(data)
    if len(buf) < len(SIGNATURE) and SIGNATURE.startswith(bytes(buf)):
        return None
    check_signature(buf)
    prefix = read_chunk_prefix(buf, len(SIGNATURE))
    if prefix is None:
        return None
    length, chunk_type = prefix
    if chunk_type != HEADER_TYPE:
        raise InvalidChunkLayout(f"first chunk is {chunk_type}, expected {HEADER_TYPE}")
    if length > limits.MAX_HEADER_BYTES:
        raise LimitExceeded(f"header chunk of {length} bytes > {limits.MAX_HEADER_BYTES}")
    return len(SIGNATURE) + CHUNK_OVERHEAD + length


def read(data: bytes | bytearray | memoryview, *, strict: bool = False) -> NffFile:
    """Parse a whole file or a prefix of one.

    strict=True refuses anything but a complete file. Otherwise a prefix that ends inside
    a chunk yields the complete chunks before it (progressive decoding); corruption of a
    complete chunk is an error in both modes.
    """
    buf = _bytes_view(data)
    header = read_header(buf)
    chunks: list[ChunkView] = []
    for ref in header.chunks:
        prefix = read_chunk_prefix(buf, ref.offset)
        if prefix is None:
            break
        length, chunk_type = prefix
        if (length, chunk_type) != (ref.length, ref.type):
            raise InvalidChunkLayout(
                f"chunk at byte {ref.offset} is {chunk_type} of {length} bytes; the index says {ref.type} of {ref.length}"
            )
        chunk = read_chunk(buf, ref.offset, length, chunk_type)
        if chunk is None:
            break
        chunks.append(chunk)
    complete = bool(chunks) and chunks[-1].type == END_TYPE
    if complete and len(buf) > header.file_size:
        raise InvalidChunkLayout(f"{len(buf) - header.file_size} bytes of trailing data after the NEND chunk")
    if strict and not complete:
        raise TruncatedFile(f"truncated file: {len(buf)} of {header.file_size} bytes")
    return NffFile(header, tuple(chunks), complete)
