"""The modality contract: the image module implements it, the codec reaches modalities only
through the registry, schemas and stage extents are checked against the modality."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgpack
import numpy as np
import pytest
import torch

from nfcodec import container
from nfcodec.codec import EncodeConfig, decode_bytes, encode_image
from nfcodec.errors import InputError, InvalidHeader, UnknownCodecId
from nfcodec.modalities import Modality, modality, modality_for_input
from nfcodec.modalities.base import Domain, check_extents, lattice_coords
from nfcodec.modalities.image import IMAGE, ImageSignal, pixel_coords
from nfcodec.registry import MODALITIES, TRANSFORMS


def test_every_registered_modality_implements_the_contract():
    for entry in MODALITIES:
        mod = entry.load()
        assert isinstance(mod, Modality) and mod.name == entry.name
        assert mod.transforms <= set(TRANSFORMS.names()) and "identity" in mod.transforms
        assert mod.growth and mod.output_suffixes and mod.rate_unit
    assert modality("image") is IMAGE
    with pytest.raises(UnknownCodecId):
        modality("hologram")


def test_the_codec_does_not_name_a_modality():
    """Dispatch goes through the registry: the generic modules never test which modality they have."""
    root = Path(__file__).resolve().parents[2] / "nfcodec"
    for name in ("codec.py", "decoding.py", "streaming.py", "search/__init__.py", "cli/encode.py", "cli/decode.py"):
        text = (root / name).read_text()
        assert 'modality == "' not in text and "modality != \"" not in text and "modalities.image" not in text.replace(
            "from .modalities.image import IMAGE, ImageSignal", ""), name


def test_modality_for_input_sniffs_the_kind(tmp_path: Path, sample_pixels: np.ndarray):
    import imageio.v3 as iio

    png = tmp_path / "a.png"
    iio.imwrite(png, sample_pixels[:8, :8])
    assert modality_for_input(png) is IMAGE
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(64))
    with pytest.raises(InputError, match="video"):
        modality_for_input(clip)


def test_lattice_coords_are_sample_centres_in_c_order():
    coords = lattice_coords((2, 3, 4))
    assert coords.shape == (24, 3) and coords.dtype == np.float32
    assert np.allclose(coords[0], [0.25, 1 / 6, 0.125]) and np.allclose(coords[-1], [0.75, 5 / 6, 0.875])
    assert np.array_equal(pixel_coords(5, 7), lattice_coords((5, 7)))
    assert np.array_equal(lattice_coords((6, 4), slice(2, 4)), lattice_coords((6, 4))[8:16])


def test_image_training_data_and_domain(sample_pixels: np.ndarray):
    signal = ImageSignal(np.ascontiguousarray(sample_pixels[:6, :10]), 8)
    geometry = IMAGE.geometry(signal)
    assert IMAGE.domain(geometry) == Domain(("y", "x"), (6, 10))
    from nfcodec.transforms import fit_transform

    sampler = IMAGE.sampler(signal, fit_transform("invert", IMAGE.search_lattice(signal), 0), 1 << 10, torch.device("cpu"))
    coords, values, lattice = sampler.batch(torch.Generator())  # 60 points: the full batch
    assert coords.shape == (60, 2) and values.shape == (60, 3) and sampler.full_batch
    assert lattice.shape == (6, 10) and np.array_equal(lattice.coords(), coords.numpy())  # the renderer's lattice, declared
    assert torch.allclose(values, 1 - torch.from_numpy(signal.values())) and torch.allclose(sampler.mean, values.mean(0))
    assert IMAGE.raw_bytes(geometry) == 180 and IMAGE.rate(180, geometry) == 24.0
    assert IMAGE.from_description(IMAGE.describe(geometry)) == geometry


def test_extents_must_fit_nest_and_be_made_by_a_growth_mode():
    domain = Domain(("t", "y", "x"), (12, 36, 64))
    temporal = frozenset({"spectral", "temporal"})
    check_extents([((0, 4), (0, 36), (0, 64)), ((0, 12), (0, 36), (0, 64)), None], domain, temporal)
    for bad in ([((0, 13), (0, 36), (0, 64))], [((0, 4), (0, 36))], [((0, 8), (0, 36), (0, 64)), ((0, 4), (0, 36), (0, 64))]):
        with pytest.raises(InvalidHeader):
            check_extents(bad, domain, temporal)
    with pytest.raises(UnknownCodecId):
        check_extents([((0, 4), (0, 36), (0, 64))], domain, frozenset({"spectral"}))
    check_extents([((0, 12), (0, 36), (0, 64))], domain, frozenset({"spectral"}))  # whole: fine
    with pytest.raises(UnknownCodecId, match="spatial"):  # time may narrow, rows may not
        check_extents([((0, 12), (0, 18), (0, 64))], domain, temporal)


def _rewrite_header(data: bytes, change) -> bytes:
    """The same file with its NHDR map changed (offsets in the index are relative to the header's
    end, so nothing else moves)."""
    (length,) = struct.unpack_from(">I", data, 8)
    head = msgpack.unpackb(data[16 : 16 + length])
    change(head)
    body = msgpack.packb(head)
    chunk = struct.pack(">I", len(body)) + b"NHDR" + body + struct.pack(">I", zlib.crc32(b"NHDR" + body))
    return data[:8] + chunk + data[16 + length + 4 :]


@pytest.fixture(scope="module")
def tiny_file(sample_pixels: np.ndarray) -> bytes:
    signal = ImageSignal(np.ascontiguousarray(sample_pixels[100:116, 200:220]), 8)
    return encode_image(signal, EncodeConfig(widths=(3, 6), stages=2, steps=3, transform="none")).data


def test_image_files_name_their_schema_and_old_files_without_one_decode(tiny_file: bytes):
    signal = container.read_header(tiny_file).signal
    assert (signal["schema"], signal["schema_version"]) == ("image", 1)
    legacy = _rewrite_header(tiny_file, lambda h: [h["signal"].pop(k) for k in ("schema", "schema_version")])
    assert np.array_equal(decode_bytes(legacy).pixels, decode_bytes(tiny_file).pixels)


@pytest.mark.parametrize("change, error", [
    (lambda h: h["signal"].update(schema="video"), InvalidHeader),
    (lambda h: h["signal"].update(schema_version=2), InvalidHeader),
    (lambda h: h["stages"][0].update(extent=[[0, 17], [0, 20]]), InvalidHeader),  # outside the 16x20 lattice
    (lambda h: h.update(modality="hologram"), UnknownCodecId),
])
def test_a_decoder_refuses_what_its_modality_does_not_describe(tiny_file: bytes, change, error):
    with pytest.raises(error):
        decode_bytes(_rewrite_header(tiny_file, change))
