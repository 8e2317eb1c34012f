"""The reader's public API: header-only reads, streaming helpers, progressive results."""
from __future__ import annotations

import array

import numpy as np
import pytest

from nfcodec import container
from nfcodec.errors import BadSignature, InvalidChunkLayout, LimitExceeded, TruncatedFile


def test_header_bytes_needed_for_streaming(small_file):
    header = container.read_header(small_file)
    needed = container.header_bytes_needed(small_file[:16])
    assert needed == header.header_end
    assert container.header_bytes_needed(small_file) == needed
    for n in range(16):  # too short to know yet, but a valid start
        assert container.header_bytes_needed(small_file[:n]) is None
    assert container.read_header(small_file[:needed]) == header
    with pytest.raises(TruncatedFile):
        container.read_header(small_file[: needed - 1])
    with pytest.raises(BadSignature):
        container.header_bytes_needed(b"\x89PNG")
    with pytest.raises(InvalidChunkLayout):
        container.header_bytes_needed(small_file[:12] + b"NSTG")
    with pytest.raises(LimitExceeded):
        container.header_bytes_needed(small_file[:8] + b"\xff\xff\xff\xff" + small_file[12:16])


def test_two_range_requests(small_file):
    """formats/nff.md 5.3: the header with one request, stages 1..k with a second."""
    first = small_file[:64]  # what a first `Range: bytes=0-63` returns
    needed = container.header_bytes_needed(first)
    if needed > len(first):
        first += small_file[len(first) : needed]
    header = container.read_header(first)
    for k in range(1, len(header.stages) + 1):
        end = header.prefix_bytes(k)
        prefix = first + small_file[len(first) : end]  # `Range: bytes=len(first)-(end - 1)`
        nff = container.read(prefix)
        assert nff.stages_available == k and nff.complete == (end == len(small_file))
        assert [bytes(c) for c in nff.ancillary("teXt")] == [b"note"]  # placed before stage 1
    with pytest.raises(ValueError):
        header.prefix_bytes(0)


def test_header_fields(small_file):
    header = container.read(small_file, strict=True).header
    assert header.version == container.FORMAT_VERSION == (1, 0)
    assert header.modality == "test" and header.signal == {"n": 1}
    assert header.field == {"arch": "test", "id": 9, "config": {"k": 1.5}}
    assert header.compression == "zstd"
    assert [c.type for c in header.chunks] == ["teXt", "NSTG", "NSTG", "NEND"]
    assert header.chunks[0].offset == header.header_end
    for a, b in zip(header.chunks, header.chunks[1:]):
        assert b.offset == a.end  # contiguous
    assert header.file_size == len(small_file)
    assert [s.width for s in header.stages] == [1, 2]
    assert [t.dtype for t in header.stages[1].tensors] == ["q8", "f16"]
    assert header.stages[1].tensors[0].step is not None and header.stages[1].tensors[1].step is None
    assert header.params_at(2) == header.stages[0].new_params + header.stages[1].new_params == 3 + 1 + 6 + 2


def test_progressive_prefix_decodes_the_stages_it_holds(small_file):
    header = container.read_header(small_file)
    cut = header.stages[1].chunk.offset + 20  # inside stage 2
    nff = container.read(small_file[:cut])
    assert (nff.stages_available, nff.stages_total, nff.complete) == (1, 2, False)
    np.testing.assert_array_equal(nff.stage_tensors(1)["w"], container.read(small_file).stage_tensors(1)["w"])
    with pytest.raises(ValueError):
        nff.stage_tensors(2)


def test_accepts_bytes_like_inputs(small_file):
    expected = container.read(small_file).stage_tensors(2)
    for data in (bytearray(small_file), memoryview(small_file)):
        got = container.read(data, strict=True).stage_tensors(2)
        for name, value in expected.items():
            np.testing.assert_array_equal(got[name], value)
    # A view of 4-byte items is read as its bytes, not indexed by item.
    n = len(small_file) - len(small_file) % 4
    words = array.array("I")
    words.frombytes(small_file[:n])
    by_words, by_bytes = container.read(memoryview(words)), container.read(small_file[:n])
    assert (by_words.stages_available, by_words.complete) == (by_bytes.stages_available, by_bytes.complete)


def test_decoded_tensors_are_writable_copies(small_file_none):
    nff = container.read(small_file_none)
    for value in nff.stage_tensors(1).values():
        assert value.flags.writeable
        value[...] = 0
    assert any(np.any(v != 0) for v in nff.stage_tensors(1).values())  # the file is untouched
