"""Transform search: option parsing, candidate filtering, the predictor, the decision rule and
a small end-to-end search on a real crop."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from nfcodec.errors import UsageError
from nfcodec.modalities.image import IMAGE
from nfcodec.search import (
    Arm,
    SearchConfig,
    candidate_presets,
    decide,
    parse_transform_choice,
    predicted_steps,
    search_for_encode,
)
from nfcodec.search.predictor import frequency_weighted_energy, mean_luma_gradient, predict, rate_factor


def test_parse_transform_choice():
    assert parse_transform_choice("auto") == (None, None)
    assert parse_transform_choice("none") == ("identity", None)
    assert parse_transform_choice("rpp") == ("rpp", None)
    assert parse_transform_choice("halve, rpp,halve") == (None, ("halve", "rpp"))
    with pytest.raises(UsageError, match="unknown transform"):
        parse_transform_choice("halve,bogus")
    with pytest.raises(UsageError):
        parse_transform_choice(" , ")


def test_candidates_keep_interpolation_and_always_include_identity():
    names = candidate_presets(IMAGE.transforms, SearchConfig())
    assert names[0] == "identity" and {"rpp", "ordered", "halve", "gamma2"} <= set(names)
    smooth = candidate_presets(IMAGE.transforms, SearchConfig(keep_interpolation=True))
    assert "rpp" not in smooth and "ordered" not in smooth and "halve" in smooth
    assert candidate_presets(IMAGE.transforms, SearchConfig(candidates=("rpp", "invert"))) == ["identity", "rpp", "invert"]
    with pytest.raises(UsageError, match="no transform left"):
        candidate_presets(IMAGE.transforms, SearchConfig(candidates=("rpp",), keep_interpolation=True))


def test_spectral_energy_sees_what_a_permutation_does(sample_pixels):
    crop = sample_pixels[200:264, 300:364].astype(np.float32) / 255
    shuffled = crop.reshape(-1, 3)[np.random.default_rng(0).permutation(64 * 64)].reshape(crop.shape)
    assert frequency_weighted_energy(shuffled) > 5 * frequency_weighted_energy(crop)
    flat = np.full((16, 16, 1), 0.3, dtype=np.float32)
    assert frequency_weighted_energy(flat) == pytest.approx(0.0, abs=1e-12)


def test_predictor_ranks_a_permutation_last_and_knows_the_inverse_slopes(sample_pixels):
    crop = sample_pixels[200:264, 300:364].astype(np.float32) / 255
    ranked = predict(crop, ["identity", "rpp", "halve", "signed"])
    by_name = {p.preset: p for p in ranked}
    assert ranked[-1].preset == "rpp"
    assert by_name["halve"].amplification == pytest.approx(4.0, rel=1e-3)
    assert by_name["signed"].amplification == pytest.approx(0.25, rel=1e-3)
    assert by_name["identity"].amplification == pytest.approx(1.0, rel=1e-3)


def _arm(preset: str, lr: float, curve: list[tuple[int, float]]) -> Arm:
    arm = Arm(preset, lr, transform=None, field=None, optimiser=None, target=None)  # type: ignore[arg-type]
    arm.curve = list(curve)
    arm.steps = curve[-1][0]
    return arm


def test_predicted_steps_extrapolates_psnr_per_doubling():
    arm = _arm("identity", 0.01, [(8, 20.0), (16, 22.0)])
    assert predicted_steps(arm, 26.0, 0.5) == pytest.approx(64 * 0.5)
    assert predicted_steps(arm, 21.0, 0.5) == pytest.approx(0.5 * 8 * 2**0.5)
    assert predicted_steps(_arm("identity", 0.01, [(8, 22.0), (16, 22.0)]), 30.0, 1.0) is None


def test_decision_compares_transforms_at_their_best_rate_and_rescales_the_identity_rate():
    base = _arm("identity", 0.01, [(8, 20.0), (16, 24.0)])
    fast_lr = _arm("identity", 0.02, [(8, 21.0), (16, 26.0)])
    shift = _arm("centre", 0.02, [(8, 21.0), (16, 26.02)])  # the same fit, a no-op transform
    arms = [base, fast_lr, shift]
    costs = {id(a): predicted_steps(a, 26.02, 1.0) for a in arms}
    # the identity encodes at the rate given for it, whatever its probes preferred
    chosen, lr, reason = decide(arms, [fast_lr, shift], costs, 0.003, margin_db=0.1)
    assert chosen is fast_lr and lr == 0.003 and "gains only 0.02 dB" in reason
    halve = _arm("halve", 0.04, [(8, 22.0), (16, 27.0)])
    arms = [base, fast_lr, halve]
    costs = {id(a): predicted_steps(a, 27.0, 1.0) for a in arms}
    # a transform: the identity's rate times its best probe rate over the identity's (0.04 / 0.02)
    chosen, lr, reason = decide(arms, [fast_lr, halve], costs, 0.003, margin_db=0.1)
    assert chosen is halve and lr == pytest.approx(0.006) and "leads the identity by 1.00 dB" in reason
    assert "encode lr 0.006)" in reason
    chosen, lr, reason = decide(arms, [fast_lr, halve], costs, 0.003, margin_db=0.1, lr_bounds=(0.001, 0.005))
    assert chosen is halve and lr == pytest.approx(0.005) and "0.006 bounded to 0.001-0.005" in reason


def test_decision_keeps_the_identity_when_it_is_predicted_fastest():
    only = _arm("identity", 0.003, [(8, 20.0), (16, 24.0)])
    other = _arm("invert", 0.003, [(8, 18.0), (16, 21.0)])
    costs = {id(only): 16.0, id(other): predicted_steps(other, 24.0, 1.0)}
    chosen, lr, reason = decide([only, other], [only, other], costs, 0.006, margin_db=0.3)
    assert chosen is only and lr == 0.006 and reason == "the identity is predicted fastest"


def test_the_rate_rule_reads_the_whole_image_texture():
    smooth = np.tile(np.linspace(0, 1, 64, dtype=np.float32)[None, :, None], (48, 1, 3))  # a ramp
    rng = np.random.default_rng(0)
    textured = rng.random((48, 64, 3), dtype=np.float32)
    assert mean_luma_gradient(smooth) == pytest.approx(1 / 63, rel=1e-5)  # along the rows only
    assert rate_factor(smooth, 0.085, 2.0) == (1.0, pytest.approx(1 / 63, rel=1e-5))
    factor, gradient = rate_factor(textured, 0.085, 2.0)
    assert factor == 2.0 and gradient > 0.2
    assert mean_luma_gradient(np.zeros((1, 1, 3), dtype=np.float32)) == 0.0


def test_search_on_a_real_crop_is_deterministic_and_complete(sample_pixels):
    from nfcodec.codec import EncodeConfig

    values = sample_pixels[180:228, 280:328].astype(np.float32) / 255
    config = SearchConfig(candidates=("halve", "rpp"), probe_side=32, first_steps=4, rounds=2, lr_factors=(1.0, 2.0),
                          min_predicted_gain=float("-inf"))
    first = search_for_encode(values, EncodeConfig(), config)
    second = search_for_encode(values, EncodeConfig(), config)
    # halve scores exactly as the identity (its scale cancels): merged, not probed
    assert first.skipped == ["halve (= identity)"]
    probed = [r for r in first.rows if r.eliminated_round != 0]
    assert len(probed) == 2 * 2 and sum(r.chosen for r in first.rows) == 1
    assert [(r.transform, r.steps, r.psnr) for r in first.rows if r.eliminated_round == 0] == [("halve", 0, None)]
    assert first.probe_shape == (32, 32)
    assert [(r.transform, r.lr, r.steps, r.psnr) for r in first.rows] == [(r.transform, r.lr, r.steps, r.psnr) for r in second.rows]
    assert (first.transform, first.lr) == (second.transform, second.lr)
    survivors = [r for r in first.rows if r.eliminated_round is None]
    assert len(survivors) == 2 and all(r.steps == 8 for r in survivors)
    assert all(r.steps == 4 for r in first.rows if r.eliminated_round == 1)
    assert all(math.isfinite(r.psnr) for r in probed)
    chosen = next(r for r in first.rows if r.chosen)
    assert chosen.transform == first.transform
    js = first.to_json()
    assert {"transform", "lr", "steps", "psnr", "chosen", "seconds"} <= set(js["rows"][0])
    assert first.to_json(timings=False) == second.to_json(timings=False)  # what files store
    assert "seconds" not in first.to_json(timings=False)["rows"][0]


def test_no_probe_when_nothing_is_predicted_faster_and_the_rate_is_fixed(sample_pixels):
    from nfcodec.codec import EncodeConfig

    values = sample_pixels[180:228, 280:328].astype(np.float32) / 255
    config = SearchConfig(candidates=("rpp", "halve"), probe_side=32, lr_factors=(1.0,))
    result = search_for_encode(values, EncodeConfig(), config)
    assert result.transform == "identity" and result.lr == 0.01 and "no probes" in result.reason
    assert [r.steps for r in result.rows] == [0, 0, 0] and [r.chosen for r in result.rows].count(True) == 1
    assert any(s.startswith("rpp (predicted gain -") for s in result.skipped)


def test_identity_alone_is_not_probed_and_takes_the_predicted_rate(sample_pixels):
    from nfcodec.codec import EncodeConfig

    values = sample_pixels[180:228, 280:328].astype(np.float32) / 255
    gradient = mean_luma_gradient(values)
    for threshold, expected in ((gradient * 0.9, 0.02), (gradient * 1.1, 0.01)):
        config = SearchConfig(candidates=("rpp",), probe_side=32, rate_gradient_threshold=threshold)
        result = search_for_encode(values, EncodeConfig(), config)
        assert result.transform == "identity" and result.lr == pytest.approx(expected)
        assert all(r.steps == 0 for r in result.rows) and "no probes" in result.reason
        assert f"mean luma gradient {gradient:.4f}" in result.reason and result.rows[0].lr == pytest.approx(expected)


def test_encode_search_rate_policy_per_architecture_and_explicit_lr():
    from nfcodec.codec import EncodeConfig, search_config_for

    grid = search_config_for(EncodeConfig(arch="grid"), None)
    assert grid.lr_factors == (1.0, 2.0, 4.0) and grid.rate_gradient_threshold == 0.085 and grid.encode_lr_range == (1.0, 2.0)
    # the SIREN's rate is not predicted (the rule was measured on the grid only)
    siren = search_config_for(EncodeConfig(arch="siren"), None)
    assert siren.rate_gradient_threshold is None
    fixed = search_config_for(EncodeConfig(arch="grid", lr=0.003), ("invert",))
    assert fixed.lr_factors == (1.0,) and fixed.rate_gradient_threshold is None and fixed.candidates == ("invert",)


def test_an_explicit_lr_is_kept_by_the_search(sample_pixels):
    from nfcodec.codec import EncodeConfig, search_config_for

    values = sample_pixels[180:228, 280:328].astype(np.float32) / 255
    config = search_config_for(EncodeConfig(lr=0.003, probe_side=32), None)
    result = search_for_encode(values, EncodeConfig(lr=0.003), dataclasses.replace(config, min_predicted_gain=float("-inf"), first_steps=4, rounds=2))
    probed = [r for r in result.rows if r.steps > 0]
    assert len(probed) >= 2 and all(r.lr == 0.003 for r in probed)
    assert result.lr == 0.003
