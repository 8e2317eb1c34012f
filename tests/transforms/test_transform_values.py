"""Pointwise transforms: exact-enough round trips, binary32 parameters, the MSE conversion."""
from __future__ import annotations

import math

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nfcodec.transforms import Affine, Gamma, Identity, Invert, Standardise, fit_transform, psnr_to_original
from nfcodec.transforms.values import MAX_AFFINE_OFFSET, MAX_AFFINE_SCALE, MIN_AFFINE_SCALE

POINTWISE_PRESETS = ["identity", "invert", "halve", "signed", "centre", "gamma0.25", "gamma0.5", "gamma1.5", "gamma2", "standardise"]
FAST = settings(max_examples=60, deadline=None)

unit = st.floats(0.0, 1.0, width=32)


@st.composite
def signals(draw, max_positions: int = 40) -> np.ndarray:
    """Values [N, C] in [0, 1], float32: what the codec feeds a transform."""
    n = draw(st.integers(1, max_positions))
    c = draw(st.integers(1, 4))
    return draw(arrays(np.float32, (n, c), elements=unit))


def binary32(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, width=32).map(float)


@FAST
@given(x=signals(), preset=st.sampled_from(POINTWISE_PRESETS))
def test_pointwise_round_trip(x, preset):
    t = fit_transform(preset, x, seed=0)
    y = t.forward(x)
    assert y.dtype == np.float32 and y.shape == x.shape and np.all(np.isfinite(y))
    back = t.inverse(y)
    # 8 binary32 ulps of 1, amplified by the standardiser's 1/std at most 2^10
    assert np.max(np.abs(back - x)) <= 2e-6 * (1024 if preset == "standardise" else 1)


@FAST
@given(x=signals(), a=binary32(MIN_AFFINE_SCALE, MAX_AFFINE_SCALE), negative=st.booleans(), b=binary32(-MAX_AFFINE_OFFSET, MAX_AFFINE_OFFSET))
def test_affine_round_trip_over_its_parameter_range(x, a, negative, b):
    t = Affine(-a if negative else a, b)
    back = t.inverse(t.forward(x))
    # each binary32 step errs by <= 2^-24 relative: |a z + b| <= |a| + |b|, divided by |a|
    bound = 4 * 2.0**-24 * (1 + abs(b) / a) + 2.0**-24
    assert np.max(np.abs(back - x)) <= bound


@FAST
@given(x=signals(), preset=st.sampled_from(POINTWISE_PRESETS), idx=st.lists(st.integers(0, 39), max_size=5))
def test_pointwise_transforms_never_move_positions(x, preset, idx):
    t = fit_transform(preset, x, seed=0)
    idx = np.asarray([i % x.shape[0] for i in idx], dtype=np.int64)
    assert np.array_equal(t.forward_positions(idx), idx) and np.array_equal(t.inverse_positions(idx), idx)
    assert not t.moves_positions and t.preserves_interpolation and t.data() is None


@FAST
@given(x=signals(), noise=st.floats(1e-4, 0.1), preset=st.sampled_from(["identity", "invert", "halve", "signed", "centre"]))
def test_mse_factor_converts_trained_domain_errors_exactly(x, noise, preset):
    t = fit_transform(preset, x, seed=0)
    rng = np.random.default_rng(0)
    y = t.forward(x).astype(np.float64)
    y_hat = y + rng.normal(0, noise, y.shape)
    mse_trained = float(np.mean((y_hat - y) ** 2))
    x_hat = t.inverse(y_hat.astype(np.float32)).astype(np.float64)
    mse_original = float(np.mean((x_hat - x) ** 2))
    # float32 rounding of y_hat near 1 perturbs each error by ~6e-8 * |error|: allow that
    assert mse_original == pytest.approx(t.mse_factor() * mse_trained, rel=1e-3, abs=1e-6 * noise)


def test_mse_factor_is_none_where_no_constant_exists():
    assert Gamma(2.0).mse_factor() is None
    assert Standardise((0.5, 0.5), (0.25, 0.125)).mse_factor() is None
    assert Standardise((0.5, 0.5), (0.25, 0.25)).mse_factor() == 0.0625
    assert psnr_to_original(Gamma(0.5), 30.0) is None
    assert psnr_to_original(Affine(0.5, 0.0), 30.0) == pytest.approx(30.0 - 20 * math.log10(2))
    assert psnr_to_original(Invert(), 30.0) == 30.0


def test_forward_maps():
    z = np.array([[0.0], [0.25], [1.0]], np.float32)
    assert Invert().forward(z).ravel().tolist() == [1.0, 0.75, 0.0]
    assert fit_transform("halve", z, 0).forward(z).ravel().tolist() == [0.0, 0.125, 0.5]
    assert fit_transform("signed", z, 0).forward(z).ravel().tolist() == [-1.0, -0.5, 1.0]
    assert fit_transform("centre", z, 0).forward(z).ravel().tolist() == [-0.5, -0.25, 0.5]
    assert fit_transform("gamma0.25", z, 0).forward(z).ravel().tolist() == pytest.approx([0.0, 0.25**4, 1.0])
    assert fit_transform("gamma2", z, 0).forward(z).ravel().tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert Identity().forward(z).tolist() == z.tolist()


def test_gamma_inverse_clamps_negative_field_outputs():
    y = np.array([[-0.5], [-1e-30], [0.25]], np.float32)
    out = Gamma(0.5).inverse(y)
    assert np.all(np.isfinite(out)) and out.ravel().tolist() == [0.0, 0.0, 0.5]


def test_standardise_fits_per_channel_binary32_statistics():
    x = np.stack([np.linspace(0, 1, 11), np.full(11, 0.3)], axis=1).astype(np.float32)
    t = fit_transform("standardise", x, 0)
    assert t.mean[0] == float(np.float32(0.5)) and t.std[1] == 1.0  # a flat channel keeps std 1
    y = t.forward(x)
    assert abs(float(y[:, 0].mean())) < 1e-6 and float(y[:, 0].std()) == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError):
        t.forward(np.zeros((3, 3), np.float32))  # fitted on 2 channels


@pytest.mark.parametrize("bad", [dict(scale=0.1, offset=0.0), dict(scale=0.0, offset=0.0), dict(scale=1e3, offset=0.0),
                                 dict(scale=1.0, offset=float("nan")), dict(scale=1.0, offset=17.0)])
def test_affine_refuses_parameters_no_file_may_hold(bad):
    with pytest.raises(ValueError):
        Affine(**bad)


def test_describe_is_msgpack_round_trippable():
    x = np.random.default_rng(1).random((20, 3), dtype=np.float32)
    for preset in POINTWISE_PRESETS:
        described = fit_transform(preset, x, 0).describe()
        assert set(described) == {"id", "name", "params"}
        assert msgpack.unpackb(msgpack.packb(described)) == described
