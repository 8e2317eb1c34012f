"""Encoding with a transform and decoding it: the reported PSNR is the decoded one, on the
original image; the transform data travels in every stage prefix; --scale and hostile files."""
from __future__ import annotations

import msgpack
import numpy as np
import pytest

from nfcodec import container
from nfcodec.codec import EncodeConfig, decode_bytes, encode_image, info
from nfcodec.errors import InvalidHeader, InvalidPayload, TruncatedFile, UsageError
from nfcodec.metrics import psnr
from nfcodec.modalities.image import ImageSignal

GRID = dict(arch="grid", stages=2, steps=12, seed=3)


@pytest.fixture(scope="module")
def signal(sample_pixels) -> ImageSignal:
    return ImageSignal(np.ascontiguousarray(sample_pixels[240:252, 330:346]), 8)


@pytest.fixture(scope="module")
def encoded(signal) -> dict:
    return {t: encode_image(signal, EncodeConfig(**GRID, transform=t)) for t in ("identity", "rpp", "ordered", "invert", "halve")}


@pytest.mark.parametrize("name", ["rpp", "ordered", "invert", "halve"])
def test_decoded_psnr_equals_the_reported_psnr(signal, encoded, name):
    result = encoded[name]
    assert result.transform["name"] == ("affine" if name == "halve" else name)
    for report in result.stages:
        decoded = decode_bytes(result.data, width=report.index)
        assert psnr(signal.pixels, decoded.pixels, 255) == report.psnr
    # The inverse really is applied: a fit of the transformed image, shown as is, would be far off.
    assert result.stages[-1].psnr > 20


def test_the_same_seed_gives_the_same_file(signal, encoded):
    assert encode_image(signal, EncodeConfig(**GRID, transform="rpp")).data == encoded["rpp"].data
    other = encode_image(signal, EncodeConfig(**{**GRID, "seed": 4}, transform="rpp"))
    assert other.transform["params"] == {"seed": 4} and other.data != encoded["rpp"].data


def test_ordered_permutation_travels_in_every_stage_prefix(signal, encoded):
    data = encoded["ordered"].data
    header = container.read_header(data)
    assert header.transform_data is not None and header.transform_data_bytes == 4 * signal.num_points
    assert header.transform_data.end <= header.stages[0].chunk.offset <= header.prefix_bytes(1)
    assert [c["type"] for c in info(data)["chunks"]] == ["NHDR", "NXFM", "NSTG", "NSTG", "NEND"]
    prefix = data[: header.prefix_bytes(1)]
    preview = decode_bytes(prefix)
    assert preview.width == 1 and psnr(signal.pixels, preview.pixels, 255) == encoded["ordered"].stages[0].psnr
    # A prefix ending inside NXFM has no stage yet: nothing to decode, a clean error.
    with pytest.raises(TruncatedFile):
        decode_bytes(data[: header.transform_data.end - 1])
    # The file size counts the permutation honestly.
    assert len(data) > len(encoded["rpp"].data) + header.transform_data.length - 64


def test_reported_bytes_include_the_transform_data(encoded):
    result = encoded["ordered"]
    header = container.read_header(result.data)
    assert result.stages[0].prefix_bytes == header.prefix_bytes(1) > header.transform_data.end
    assert result.to_json()["transform"] == {"id": 3, "name": "ordered", "preset": "ordered", "params": {"data_bytes": 4 * 12 * 16}}


def test_scale_decodes_interpolation_preserving_files_on_a_finer_grid(encoded):
    for name in ("identity", "halve"):
        data = encoded[name].data
        normal = decode_bytes(data)
        assert np.array_equal(decode_bytes(data, scale=1.0).pixels, normal.pixels)
        double = decode_bytes(data, scale=2.0)
        assert double.pixels.shape == (24, 32, 3) and double.scale == 2.0
        assert decode_bytes(data, scale=0.5).pixels.shape == (6, 8, 3)
        assert decode_bytes(data, scale=0.3).pixels.shape == (4, 5, 3)  # 3.6 -> 4, 4.8 -> 5
        # pixel centres of the 2x grid straddle those of the 1x grid: the means stay close
        mean_diff = np.abs(double.pixels.astype(float).mean() - normal.pixels.astype(float).mean())
        assert mean_diff < 8


@pytest.mark.parametrize("name", ["rpp", "ordered"])
def test_scale_is_refused_for_permutations(encoded, name):
    with pytest.raises(UsageError, match="scale"):
        decode_bytes(encoded[name].data, scale=2.0)
    assert decode_bytes(encoded[name].data, scale=1.0).pixels.shape == (12, 16, 3)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf"), 1e6, 0.001])
def test_bad_scales_are_usage_errors(encoded, scale):
    with pytest.raises(UsageError):
        decode_bytes(encoded["identity"].data, scale=scale)


def test_unknown_transform_is_a_usage_error(signal):
    with pytest.raises(UsageError, match="known"):
        encode_image(signal, EncodeConfig(**GRID, transform="bogus"))


def reframe(data: bytes, edit_header=None, nxfm: bytes | None = None) -> bytes:
    """Rewrite the header (and optionally the NXFM chunk data) of a file, keeping it CRC-valid."""
    from nfcodec.container.chunks import frame_chunk
    from nfcodec.container.header import pack_header

    header = container.read_header(data)
    raw = msgpack.unpackb(data[16 : header.header_end - 4])
    body = data[header.header_end :]
    if nxfm is not None:
        ref = header.transform_data
        start, end = ref.offset - header.header_end, ref.end - header.header_end
        body = body[:start] + frame_chunk("NXFM", nxfm) + body[end:]
        shift = len(nxfm) - ref.length
        raw["index"] = [[t, o + (shift if o > start else 0), n if o != start else len(nxfm)] for t, o, n in raw["index"]]
    if edit_header:
        edit_header(raw)
    return data[:8] + frame_chunk("NHDR", pack_header(raw)) + body


def test_hostile_transform_data_in_a_file_is_refused(encoded):
    n = 12 * 16
    not_a_permutation = container.transform_data_chunk(np.zeros(n, "<u4").tobytes())[1]
    with pytest.raises(InvalidPayload):
        decode_bytes(reframe(encoded["ordered"].data, nxfm=not_a_permutation))
    # A declared size beyond 4 bytes per pixel is refused before anything is decompressed.
    bomb = container.transform_data_chunk(bytes(8 * n))[1]
    with pytest.raises(InvalidHeader):
        decode_bytes(reframe(encoded["ordered"].data, lambda raw: raw["transform"]["params"].update(data_bytes=8 * n), bomb))
    with pytest.raises(InvalidHeader):
        decode_bytes(reframe(encoded["rpp"].data, lambda raw: raw["transform"]["params"].update(seed=2**32)))
    with pytest.raises(InvalidHeader):
        decode_bytes(reframe(encoded["halve"].data, lambda raw: raw["transform"]["params"].update(scale=0.1)))


def test_permuted_decode_keeps_memory_near_the_output_size(encoded):
    """A header may declare a large image: an rpp decode needs its permutation and the samples
    twice (trained order, then moved back), not float64 copies of the image."""
    import tracemalloc

    big = reframe(encoded["rpp"].data, lambda raw: raw["signal"].update(shape=[512, 512]))
    tracemalloc.start()
    result = decode_bytes(big)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    n = 512 * 512
    assert result.pixels.shape == (512, 512, 3)
    # samples twice + the permutation and its keys (8 bytes each, a few at a time) + one block
    assert peak < 2 * 3 * n + 4 * 8 * n + (32 << 20)
