"""Rebuilding transforms from a (hostile) header, and the preset catalogue."""
from __future__ import annotations

import msgpack
import numpy as np
import pytest

from nfcodec.modalities.image import IMAGE
from nfcodec.errors import InvalidHeader, InvalidPayload, UnknownCodecId, UsageError
from nfcodec.registry import TRANSFORMS
from nfcodec.transforms import PRESETS, fit_transform, parse_transform_option, preset_names, transform_from_header

H, W, C = 4, 5, 3
N = H * W


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(11).random((H, W, C), dtype=np.float32)


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_survives_the_header(image, preset):
    t = fit_transform(preset, image, seed=123)
    raw = msgpack.unpackb(msgpack.packb(t.describe()))  # what a reader sees
    back = transform_from_header(raw, t.data(), N, C, admitted=IMAGE.transforms)
    assert type(back) is type(t) and back.describe() == t.describe()
    y = t.forward(image.reshape(N, C))
    assert back.inverse(y).tobytes() == t.inverse(y).tobytes()
    assert TRANSFORMS.by_id(raw["id"]).name == raw["name"] == PRESETS[preset].transform


def test_presets_and_registry_agree():
    registry_names = set(TRANSFORMS.names())
    assert {p.transform for p in PRESETS.values()} == registry_names
    assert preset_names()[0] == "identity"
    for entry in TRANSFORMS:
        cls = entry.load()
        assert cls.id == entry.id and cls.name == entry.name


def raw(name: str, **params) -> dict:
    return {"id": TRANSFORMS.by_name(name).id, "name": name, "params": params}


PERM = np.arange(N, dtype="<u4")[::-1].copy()


@pytest.mark.parametrize(
    "header, data, error",
    [
        ({"id": 2, "name": "identity", "params": {}}, None, UnknownCodecId),  # name does not match id
        ({"id": 999, "name": "future", "params": {}}, None, UnknownCodecId),
        ({"id": True, "name": "invert", "params": {}}, None, InvalidHeader),
        ({"id": 1.0, "name": "invert", "params": {}}, None, InvalidHeader),
        ({"id": 0, "name": "identity", "params": []}, None, InvalidHeader),
        (raw("affine", scale=float("nan"), offset=0.0), None, InvalidHeader),
        (raw("affine", scale=2, offset=0.0), None, InvalidHeader),  # an integer is not a float
        (raw("affine", scale=0.1, offset=0.0), None, InvalidHeader),  # not a binary32 number
        (raw("affine", scale=0.0, offset=0.0), None, InvalidHeader),
        (raw("affine", scale=512.0, offset=0.0), None, InvalidHeader),
        (raw("affine", scale=1.0, offset=float("inf")), None, InvalidHeader),
        (raw("affine", scale=1.0), None, InvalidHeader),
        (raw("gamma", gamma=0.0), None, InvalidHeader),
        (raw("gamma", gamma=-2.0), None, InvalidHeader),
        (raw("gamma", gamma=16.0), None, InvalidHeader),
        (raw("gamma", gamma="2"), None, InvalidHeader),
        (raw("standardise", mean=[0.5, 0.5], std=[0.25, 0.25]), None, InvalidHeader),  # 2 of 3 channels
        (raw("standardise", mean=[0.5] * 3, std=[0.0, 0.25, 0.25]), None, InvalidHeader),
        (raw("standardise", mean=[2.0, 0.5, 0.5], std=[0.25] * 3), None, InvalidHeader),
        (raw("standardise", mean=[0.5] * 3, std=[0.25, None, 0.25]), None, InvalidHeader),
        (raw("rpp", seed=-1), None, InvalidHeader),
        (raw("rpp", seed=2**32), None, InvalidHeader),
        (raw("rpp", seed=True), None, InvalidHeader),
        (raw("rpp", seed=1.0), None, InvalidHeader),
        (raw("rpp"), None, InvalidHeader),
        (raw("rpp", seed=1), b"\0" * 4, InvalidHeader),  # transform data it cannot use
        (raw("invert"), PERM.tobytes(), InvalidHeader),
        (raw("ordered", data_bytes=4 * N), None, InvalidHeader),  # the permutation is missing
        (raw("ordered", data_bytes=4 * N - 4), PERM[:-1].tobytes(), InvalidHeader),
        (raw("ordered", data_bytes=float(4 * N)), PERM.tobytes(), InvalidHeader),
        (raw("ordered", data_bytes=4 * N), PERM[:-1].tobytes(), InvalidPayload),  # wrong length
        (raw("ordered", data_bytes=4 * N), np.zeros(N, "<u4").tobytes(), InvalidPayload),  # repeats
        (raw("ordered", data_bytes=4 * N), np.arange(1, N + 1, dtype="<u4").tobytes(), InvalidPayload),  # out of range
        (raw("ordered", data_bytes=4 * N), np.full(N, 2**32 - 1, "<u4").tobytes(), InvalidPayload),
    ],
)
def test_hostile_transform_headers_are_refused(header, data, error):
    with pytest.raises(error):
        transform_from_header(header, data, N, C, admitted=IMAGE.transforms)


def test_valid_hostile_looking_values_are_accepted():
    t = transform_from_header(raw("ordered", data_bytes=4 * N), PERM.tobytes(), N, C)
    assert t.perm.tolist() == PERM.tolist()
    assert transform_from_header(raw("rpp", seed=2**32 - 1, future="ignored"), None, N, C).seed == 2**32 - 1
    assert transform_from_header(raw("affine", scale=-256.0, offset=-16.0), None, N, C).scale == -256.0


def test_modality_and_geometry_are_checked():
    pointwise_and_rpp = frozenset({"identity", "rpp"})  # a modality without a 2-D grid, say
    with pytest.raises(UnknownCodecId):
        transform_from_header(raw("ordered", data_bytes=4 * N), PERM.tobytes(), N, C, admitted=pointwise_and_rpp)
    assert transform_from_header(raw("rpp", seed=3), None, N, C, admitted=pointwise_and_rpp).n == N
    for n, c in ((0, 3), (N, 0), (2**40 + 1, 1), (N, 17)):
        with pytest.raises(InvalidHeader):
            transform_from_header(raw("invert"), None, n, c)
    # a 1080p clip of 120 frames has 2.5e8 positions: pointwise transforms take any signal, the
    # permutations at most 2^26 positions (their data and key streams are bounded by it)
    assert transform_from_header(raw("invert"), None, 248_832_000, 3).name == "invert"
    for preset, params in (("rpp", {"seed": 1}), ("ordered", {"data_bytes": 4 * (2**26 + 1)})):
        with pytest.raises(InvalidHeader, match="2\\^26"):
            transform_from_header(raw(preset, **params), None, 2**26 + 1, 3)


def test_preset_names_and_the_cli_parser():
    assert parse_transform_option("none") == "identity"
    assert parse_transform_option(" rpp ") == "rpp"
    with pytest.raises(UsageError) as info:
        parse_transform_option("gamma3")
    message = str(info.value)
    assert "gamma3" in message and "known:" in message and "rpp" in message and "\n" not in message
    with pytest.raises(UsageError):
        fit_transform("auto", np.zeros((2, 1), np.float32), 0)
    assert {"identity", "invert", "rpp", "ordered", "halve", "signed", "centre", "gamma0.25", "gamma0.5",
            "gamma1.5", "gamma2", "standardise"} == set(preset_names())


def test_rpp_preset_takes_the_encoder_seed_modulo_2_32(image):
    assert fit_transform("rpp", image, 2**32 + 5).params() == {"seed": 5}
    assert fit_transform("rpp", image, 7).n == N
