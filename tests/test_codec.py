from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nfcodec import container
from nfcodec.codec import EncodeConfig, decode_bytes, encode, encode_image, info
from nfcodec.errors import NffError, TruncatedFile, UsageError
from nfcodec.metrics import psnr
from nfcodec.modalities.image import ImageSignal, read_image

TINY = EncodeConfig(arch="siren", widths=(3, 6, 9), stages=3, steps=8, seed=5, transform="none")


@pytest.fixture(scope="module")
def tiny_signal(sample_pixels) -> ImageSignal:
    return ImageSignal(np.ascontiguousarray(sample_pixels[240:252, 330:346]), 8)


@pytest.fixture(scope="module")
def tiny_encoded(tiny_signal):
    return encode_image(tiny_signal, TINY)


def test_decoded_psnr_equals_what_the_encoder_reported(tiny_signal, tiny_encoded):
    for report in tiny_encoded.stages:
        decoded = decode_bytes(tiny_encoded.data, width=report.index)
        assert decoded.width == report.index
        assert psnr(tiny_signal.pixels, decoded.pixels, 255) == report.psnr


def test_same_seed_same_bytes(tiny_signal, tiny_encoded):
    assert encode_image(tiny_signal, TINY).data == tiny_encoded.data
    other = encode_image(tiny_signal, EncodeConfig(arch="siren", widths=(3, 6, 9), stages=3, steps=8, seed=6, transform="none"))
    assert other.data != tiny_encoded.data


def test_grid_encode_is_deterministic_and_decodes_to_the_reported_quality(tiny_signal):
    config = EncodeConfig(arch="grid", stages=3, steps=15, seed=2, transform="none")
    result = encode_image(tiny_signal, config)
    assert encode_image(tiny_signal, config).data == result.data
    psnrs = [s.psnr for s in result.stages]
    for report in result.stages:
        decoded = decode_bytes(result.data, width=report.index)
        assert psnr(tiny_signal.pixels, decoded.pixels, 255) == report.psnr
    assert psnrs[-1] > psnrs[0]


def test_every_prefix_decodes_to_some_width_or_fails_cleanly(tiny_encoded):
    data = tiny_encoded.data
    header = container.read_header(data)
    ends = [s.chunk.end for s in header.stages]
    full = decode_bytes(data)
    decoded_widths = set()
    for n in range(len(data) + 1):
        prefix = data[:n]
        expected_width = sum(1 for end in ends if end <= n)
        if expected_width == 0:
            with pytest.raises(NffError):
                decode_bytes(prefix)
            continue
        result = decode_bytes(prefix)
        assert result.width == expected_width
        assert result.complete == (n == len(data))
        decoded_widths.add(result.width)
        if n in ends:  # a prefix ending exactly at a stage decodes identically to the full file
            assert np.array_equal(result.pixels, decode_bytes(data, width=expected_width).pixels)
    assert decoded_widths == {1, 2, 3}
    assert np.array_equal(decode_bytes(data[: len(data)]).pixels, full.pixels)


def test_strict_mode_refuses_truncated_files(tiny_encoded):
    data = tiny_encoded.data
    with pytest.raises(TruncatedFile):
        decode_bytes(data[:-1], strict=True)
    assert decode_bytes(data, strict=True).complete


def test_width_above_what_the_file_holds(tiny_encoded):
    data = tiny_encoded.data
    with pytest.raises(UsageError):
        decode_bytes(data, width=4)
    header = container.read_header(data)
    cut = data[: header.stages[0].chunk.end + 3]
    result = decode_bytes(cut, width=3)
    assert result.width == 1 and "width 3 requested" in result.note


def test_info_reports_the_chunk_table(tiny_encoded):
    summary = info(tiny_encoded.data)
    assert summary["complete"] and summary["modality"] == "image"
    assert [s["width"] for s in summary["stages"]] == [3, 6, 9]
    assert [c["type"] for c in summary["chunks"]] == ["NHDR", "NSTG", "NSTG", "NSTG", "NEND"]
    offsets = [c["offset"] for c in summary["chunks"]]
    lengths = [c["length"] for c in summary["chunks"]]
    assert all(offsets[i] + lengths[i] == offsets[i + 1] for i in range(len(offsets) - 1))
    assert offsets[-1] + lengths[-1] == len(tiny_encoded.data)


@pytest.mark.parametrize("dtype", ["f32", "q16", "q8"])
def test_storage_precisions(tiny_signal, dtype):
    result = encode_image(tiny_signal, EncodeConfig(widths=(3, 6), stages=2, steps=4, dtype=dtype, transform="none"))
    decoded = decode_bytes(result.data)
    assert psnr(tiny_signal.pixels, decoded.pixels, 255) == result.stages[-1].psnr


def test_sixteen_bit_grey_round_trip(tmp_path: Path):
    import imageio.v3 as iio

    yy, xx = np.mgrid[0:10, 0:14]
    grey = (30000 + 20000 * np.sin(xx / 3.0) * np.cos(yy / 4.0)).astype(np.uint16)
    src = tmp_path / "g16.png"
    iio.imwrite(src, grey)
    result = encode(src, tmp_path / "g16.nff", EncodeConfig(widths=(4, 8), stages=2, steps=30, transform="none"))
    signal = read_image(src)
    assert signal.bit_depth == 16 and signal.channels == 1
    decoded = decode_bytes(result.data)
    assert decoded.pixels.dtype == np.uint16 and decoded.pixels.shape == (10, 14, 1)
    assert psnr(signal.pixels, decoded.pixels, 65535) == result.stages[-1].psnr


def test_full_sample_quality_rises_with_width_and_stage_one_decodes_from_its_prefix(tmp_path: Path):
    """The issue's acceptance check on the bundled 768x512 photo (few steps, CPU)."""
    from tests.conftest import SAMPLE

    out = tmp_path / "sample.nff"
    result = encode(SAMPLE, out, EncodeConfig(stages=4, steps=25, seed=0))
    psnrs = [s.psnr for s in result.stages]
    assert all(b > a for a, b in zip(psnrs, psnrs[1:])), psnrs
    data = out.read_bytes()
    cut = data[: result.stages[0].prefix_bytes]
    preview = decode_bytes(cut)
    assert preview.width == 1 and not preview.complete
    assert psnr(read_image(SAMPLE).pixels, preview.pixels, 255) == psnrs[0]


@pytest.mark.parametrize(
    "patch",
    [
        {"signal": {"shape": ["12", "16"]}},
        {"signal": {"channels": True}},
        {"signal": {"bit_depth": 8.5}},
        {"field_config": {"hidden_layers": 1.7}},
        {"field_config": {"omega": "30"}},
        {"field_config": {"hidden_layers": 40}},
    ],
)
def test_loosely_typed_header_fields_are_refused(tiny_encoded, patch):
    """Re-frame the header with one field altered (CRC-valid): the decoder must refuse it."""
    from nfcodec.container.header import pack_header
    from nfcodec.errors import InvalidHeader
    import msgpack

    data = tiny_encoded.data
    header = container.read_header(data)
    raw = msgpack.unpackb(data[16 : header.header_end - 4])
    for key, value in patch.get("signal", {}).items():
        raw["signal"][key] = value
    for key, value in patch.get("field_config", {}).items():
        raw["field"]["config"][key] = value
    framed = container.chunks.frame_chunk("NHDR", pack_header(raw))
    with pytest.raises(InvalidHeader):
        decode_bytes(data[:8] + framed + data[header.header_end :])


def test_oversized_field_is_refused_before_allocation():
    from nfcodec.fields.siren import ProgressiveSiren
    from nfcodec.schema import MAX_FIELD_PARAMS

    config = {"in_dim": 2, "out_dim": 3, "hidden_layers": 16, "omega": 30.0}
    assert ProgressiveSiren.allocated_params((4096,), config) > MAX_FIELD_PARAMS


def test_grid_without_numba_falls_back_to_plain_torch(tiny_signal, monkeypatch):
    """NFCODEC_GRID_BACKEND=torch (as on a machine without numba): same API, a valid file, and a
    file any backend decodes to nearly the same pixels."""
    config = EncodeConfig(arch="grid", stages=2, steps=10, seed=1, transform="none")
    monkeypatch.setenv("NFCODEC_GRID_BACKEND", "torch")
    result = encode_image(tiny_signal, config)
    decoded_torch = decode_bytes(result.data)
    assert psnr(tiny_signal.pixels, decoded_torch.pixels, 255) == result.stages[-1].psnr
    monkeypatch.delenv("NFCODEC_GRID_BACKEND")
    decoded_default = decode_bytes(result.data)
    assert np.max(np.abs(decoded_default.pixels.astype(int) - decoded_torch.pixels.astype(int))) <= 1


def _reframe(data: bytes, edit) -> bytes:
    import msgpack

    from nfcodec.container.header import pack_header

    header = container.read_header(data)
    raw = msgpack.unpackb(data[16 : header.header_end - 4])
    edit(raw)
    return data[:8] + container.chunks.frame_chunk("NHDR", pack_header(raw)) + data[header.header_end :]


@pytest.fixture(scope="module")
def tiny_grid(tiny_signal):
    return encode_image(tiny_signal, EncodeConfig(arch="grid", stages=2, steps=3, transform="none"))


@pytest.mark.parametrize(
    "edit",
    [
        lambda raw: raw["field"]["config"].update(mlp_widths=[16]),  # one width for two stages
        lambda raw: raw["field"]["config"].update(mlp_widths=[32, 16]),  # decreasing
        lambda raw: raw["field"]["config"].update(n_levels=8),  # fewer levels than the last stage uses
        lambda raw: raw["field"]["config"].update(per_level_scale=16.0),  # finest level beyond 2^24
        lambda raw: raw["field"]["config"].update(per_level_scale=16.0, base_resolution=65536, n_levels=32),
        lambda raw: raw["field"]["config"].update(base_resolution=[16, 16, 16]),  # per axis: one per axis
        lambda raw: raw["field"]["config"].update(per_level_scale=[1.5, "2"]),
        lambda raw: raw["field"]["config"].update(per_level_scale=[1.5, 16.0]),  # one axis beyond 2^24
    ],
)
def test_hostile_grid_configs_are_refused(tiny_grid, edit):
    from nfcodec.errors import InvalidHeader

    with pytest.raises(InvalidHeader):
        decode_bytes(_reframe(tiny_grid.data, edit))


def test_decoding_renders_in_blocks_without_full_size_temporaries(tiny_grid):
    """A header may legally declare a large image: decoding must not build float64 copies of it."""
    import tracemalloc

    big = _reframe(tiny_grid.data, lambda raw: raw["signal"].update(shape=[1024, 1024]))
    tracemalloc.start()
    result = decode_bytes(big)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.pixels.shape == (1024, 1024, 3)
    assert peak < 3 * 1024 * 1024 * 3 + (64 << 20)  # output + one block's worth, not 1M x 3 float64s


def test_auto_transform_searches_stores_the_table_after_the_stages_and_stays_deterministic(tiny_signal):
    config = EncodeConfig(arch="grid", stages=2, steps=4, seed=3, probe_side=16)
    result = encode_image(tiny_signal, config)
    assert result.search is not None and sum(r.chosen for r in result.search.rows) == 1
    assert result.transform_preset == result.search.transform
    summary = info(result.data)
    types = [c["type"] for c in summary["chunks"]]
    assert types[-2:] == ["srch", "NEND"] and types.index("srch") > max(i for i, t in enumerate(types) if t == "NSTG")
    assert summary["search_summary"]["transform"] == result.search.transform
    stored = [r.transform for r in result.search.rows if r.eliminated_round != 0]  # probed (or the chosen identity)
    assert [r["transform"] for r in summary["search"]] == stored
    assert "seconds" not in summary["search"][0]  # files hold no wall-clock values...
    assert encode_image(tiny_signal, config).data == result.data  # ...so bytes depend on the seed alone
    js = result.to_json()
    assert js["search"][0].keys() >= {"transform", "lr", "steps", "psnr", "chosen"}
    # a decoder never needs the table: the file cut before it still decodes every stage
    header = container.read_header(result.data)
    assert decode_bytes(result.data[: header.prefix_bytes(2)]).width == 2


def test_spatial_growth_stage_k_covers_the_first_k_thirds_of_the_columns(tiny_signal):
    config = EncodeConfig(arch="grid", stages=3, steps=4, transform="none", grow="spatial")
    result = encode_image(tiny_signal, config)
    height = tiny_signal.height  # 12 x 16
    assert [r.extent for r in result.stages] == [[[0, height], [0, c]] for c in (6, 11, 16)]
    for report in result.stages:
        columns = report.extent[1][1]
        decoded = decode_bytes(result.data, width=report.index)
        assert decoded.shape == [height, columns, 3] and decoded.pixels.shape == (height, columns, 3)
        # the reported quality is the strip's, and what a decoder gets
        assert psnr(tiny_signal.pixels[:, :columns], decoded.pixels, 255.0) == pytest.approx(report.psnr, abs=1e-9)
    with pytest.raises(UsageError, match="spatial"):
        decode_bytes(result.data, width=1, scale=2.0)
    assert decode_bytes(result.data, scale=2.0).pixels.shape == (24, 32, 3)  # the whole width may rescale


def test_partial_stages_take_pointwise_transforms_only(tiny_signal):
    from nfcodec.codec import validate_config
    from nfcodec.errors import InvalidHeader
    from nfcodec.modalities.image import IMAGE

    with pytest.raises(UsageError, match="grown spatially"):
        validate_config(EncodeConfig(grow="spatial", transform="rpp"), IMAGE)
    validate_config(EncodeConfig(grow="spatial", transform="invert"), IMAGE)
    result = encode_image(tiny_signal, EncodeConfig(arch="grid", stages=2, steps=2, transform="none", grow="spatial"))
    # a hostile file pairing partial stages with a permutation is refused, not mis-rendered
    moved = _reframe(result.data, lambda raw: raw["transform"].update(id=2, name="rpp", params={"seed": 7}))
    with pytest.raises(InvalidHeader, match="moves samples"):
        decode_bytes(moved)
