"""Exhaustive damage to small valid files: every prefix, every bit flip (formats/nff.md 5.2)."""
from __future__ import annotations

import numpy as np
import pytest

from nfcodec import container
from nfcodec.errors import BadSignature, NffError, TruncatedFile

from nff_support import make_file


def decode_all(data: bytes, strict: bool) -> container.NffFile:
    nff = container.read(data, strict=strict)
    for k in range(1, nff.stages_available + 1):
        nff.stage_tensors(k)
    return nff


FILES = {
    "zstd": lambda: make_file("zstd"),
    "none": lambda: make_file("none", ("q16", "f16", "f32")),
}


@pytest.mark.parametrize("kind", sorted(FILES))
def test_every_prefix_parses_progressively_or_raises_nff_error(kind):
    data = FILES[kind]()
    full = decode_all(data, strict=True)
    header = full.header
    reference = [full.stage_tensors(k) for k in range(1, full.stages_total + 1)]
    previous = 0
    for n in range(len(data) + 1):
        prefix = data[:n]
        try:
            nff = decode_all(prefix, strict=False)
        except NffError as exc:
            # Only a prefix without the whole header may fail, and only as truncated / empty.
            assert n < header.header_end, (n, exc)
            assert isinstance(exc, BadSignature if n == 0 else TruncatedFile), (n, exc)
            continue
        assert n >= header.header_end
        assert nff.header == header
        assert nff.stages_available >= previous  # more bytes never mean fewer stages
        previous = nff.stages_available
        assert nff.stages_available == sum(1 for s in header.stages if s.chunk.end <= n)
        assert nff.complete == (n == len(data))
        for k in range(1, nff.stages_available + 1):
            for name, value in nff.stage_tensors(k).items():
                np.testing.assert_array_equal(value, reference[k - 1][name])
        # Strict mode accepts the whole file and nothing shorter.
        if n < len(data):
            with pytest.raises(TruncatedFile):
                container.read(prefix, strict=True)
    assert previous == full.stages_total


@pytest.mark.parametrize("kind", sorted(FILES))
def test_every_bit_flip_is_an_error(kind):
    """CRCs cover every byte after the signature except the length fields, and a changed length
    disagrees with the index or moves the header's CRC: no single flipped bit goes unnoticed."""
    data = FILES[kind]()
    buf = bytearray(data)
    for i in range(len(buf)):
        for bit in range(8):
            buf[i] ^= 1 << bit
            damaged = bytes(buf)
            buf[i] ^= 1 << bit
            for strict in (False, True):
                with pytest.raises(NffError):
                    decode_all(damaged, strict)


def test_every_prefix_of_every_valid_vector(manifest):
    """The same property over the committed vectors (both valid files and prefixes)."""
    from nff_support import VECTORS

    for entry in manifest["vectors"]:
        if not entry["progressive"]["ok"]:
            continue
        data = (VECTORS / entry["file"]).read_bytes()
        for n in range(len(data) + 1):
            try:
                decode_all(data[:n], strict=False)
            except NffError:
                pass
            except Exception as exc:  # noqa: BLE001 -- exactly what this test is about
                pytest.fail(f"{entry['file']}[:{n}] raised {type(exc).__name__}: {exc}")
