"""Positional transforms: bit-exact round trips, the specified generator, the J-shell order."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nfcodec.transforms import (
    OrderedPermutation,
    RandomPermutation,
    fit_transform,
    j_shell_path,
    rpp_keys,
    rpp_permutation,
    splitmix64,
)

VECTORS = Path(__file__).resolve().parents[2] / "formats" / "vectors" / "transform_vectors.json"
FAST = settings(max_examples=60, deadline=None)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def images(draw) -> np.ndarray:
    """[H, W, C] float32 in [0, 1], with repeated values (ties) likely."""
    h, w, c = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 4))
    levels = draw(st.integers(2, 256))
    ints = draw(arrays(np.int64, (h, w, c), elements=st.integers(0, levels - 1)))
    return (ints / (levels - 1)).astype(np.float32)


def as_flat(image: np.ndarray) -> np.ndarray:
    return image.reshape(-1, image.shape[-1])


@FAST
@given(image=images(), seed=seeds, preset=st.sampled_from(["rpp", "ordered"]))
def test_permutations_round_trip_bit_exactly(image, seed, preset):
    t = fit_transform(preset, image, seed)
    x = as_flat(image)
    y = t.forward(x)
    assert np.array_equal(np.sort(y, axis=0), np.sort(x, axis=0))  # the same samples, moved
    assert t.inverse(y).tobytes() == x.tobytes()
    # [H, W, C] in, [H, W, C] out; any dtype (the decoder moves integer samples)
    assert t.inverse(t.forward(image)).tobytes() == image.tobytes()
    pixels = (x * 255).astype(np.uint8)
    assert t.inverse(t.forward(pixels)).tobytes() == pixels.tobytes()


@FAST
@given(image=images(), seed=seeds, preset=st.sampled_from(["rpp", "ordered"]))
def test_position_maps_agree_with_the_value_maps(image, seed, preset):
    t = fit_transform(preset, image, seed)
    x = as_flat(image)
    y = t.forward(x)
    i = np.arange(x.shape[0])
    assert np.array_equal(y[t.forward_positions(i)], x)  # original i sits at forward_positions(i)
    assert np.array_equal(x[t.inverse_positions(i)], y)  # trained p holds original inverse_positions(p)
    assert np.array_equal(t.inverse_positions(t.forward_positions(i)), i)
    assert t.moves_positions and not t.preserves_interpolation and t.mse_factor() == 1.0


def test_splitmix64_is_vignas():
    # The first outputs of splitmix64 seeded with 0 (Vigna's reference C code).
    got = splitmix64(np.array([0, 0x9E3779B97F4A7C15], np.uint64))
    assert [int(v) for v in got] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]


@given(seed=seeds, n=st.integers(1, 3000))
@settings(max_examples=30, deadline=None)
def test_rpp_is_a_deterministic_permutation(seed, n):
    a, b = rpp_permutation(seed, n), rpp_permutation(seed, n)
    assert np.array_equal(a, b)
    assert np.array_equal(np.sort(a), np.arange(n))
    keys = rpp_keys(seed, n)
    assert np.all(np.diff(keys[a].astype(object)) > 0)  # sorted by key, and no ties


def test_rpp_depends_on_the_seed_and_is_not_near_identity():
    a, b = rpp_permutation(0, 1000), rpp_permutation(1, 1000)
    assert not np.array_equal(a, b)
    assert np.mean(a == np.arange(1000)) < 0.01


def test_rpp_matches_the_committed_conformance_vectors():
    vectors = json.loads(VECTORS.read_text())
    sizes = {e["n"] for e in vectors["rpp"]}
    assert {1, 2, 10, 1000, 512 * 512} <= sizes
    for e in vectors["rpp"]:
        perm = RandomPermutation(e["seed"], e["n"]).perm
        assert perm[:8].tolist() == e["first"] and perm[-8:].tolist() == e["last"]
        assert hashlib.sha256(perm.astype("<u4").tobytes()).hexdigest() == e["sha256"]
        if "perm" in e:
            assert perm.tolist() == e["perm"]
            assert [f"{int(k):016x}" for k in rpp_keys(e["seed"], e["n"])] == e["keys"]
    for e in vectors["splitmix64"]:
        assert int(splitmix64(np.array([int(e["x"], 16)], np.uint64))[0]) == int(e["out"], 16)


def test_rpp_refuses_out_of_range_seeds():
    for seed in (-1, 2**32):
        with pytest.raises(ValueError):
            RandomPermutation(seed, 4)
    with pytest.raises(ValueError):
        RandomPermutation(1, 4).forward(np.zeros((5, 1), np.float32))  # wrong number of positions


# ---- the J-shell order ----------------------------------------------------------------------


def test_j_shells_by_hand():
    # 3x3: (0,0); shell 1 clockwise: down column 1, left along row 1; shell 2 counter-clockwise:
    # right along row 2, up column 2.
    assert j_shell_path(3, 3).reshape(3, 3).tolist() == [[0, 1, 8], [3, 2, 7], [4, 5, 6]]
    # 2x4: beyond the 2x2 square the shells are single columns, alternating up and down.
    assert j_shell_path(2, 4).reshape(2, 4).tolist() == [[0, 1, 5, 6], [3, 2, 4, 7]]
    assert j_shell_path(4, 2).reshape(4, 2).tolist() == [[0, 1], [3, 2], [4, 5], [7, 6]]
    assert j_shell_path(1, 1).tolist() == [0]


@given(h=st.integers(1, 24), w=st.integers(1, 24))
@settings(max_examples=80, deadline=None)
def test_j_shell_path_is_a_bijection_that_fills_shells_in_order(h, w):
    path = j_shell_path(h, w)
    assert np.array_equal(np.sort(path), np.arange(h * w))
    r, c = np.divmod(np.argsort(path), w)  # cells in path order
    shells = np.maximum(r, c)
    assert np.all(np.diff(shells) >= 0)
    # Inside the square min(h, w) x min(h, w) the alternation makes one continuous path.
    m = min(h, w)
    inside = m * m
    steps = np.abs(np.diff(r[:inside])) + np.abs(np.diff(c[:inside]))
    assert np.all(steps == 1)


def test_j_shells_match_the_committed_vectors():
    for e in json.loads(VECTORS.read_text())["j_shell"]:
        assert j_shell_path(e["height"], e["width"]).reshape(e["height"], e["width"]).tolist() == e["path"]


# ---- the ordered permutation ---------------------------------------------------------------


@FAST
@given(image=images())
def test_ordered_places_intensities_ascending_along_the_path(image):
    t = OrderedPermutation.fit(image)
    h, w, _ = image.shape
    trained = t.forward(as_flat(image))
    luma = trained.astype(np.float64).sum(axis=1)
    along_path = luma[np.argsort(j_shell_path(h, w))]
    assert np.all(np.diff(along_path) >= 0)
    # ties keep index order: among equal lumas, original indices increase along the path
    orig = t.perm[np.argsort(j_shell_path(h, w))]
    same = np.diff(along_path) == 0
    assert np.all(np.diff(orig)[same] > 0)


def test_ordered_data_is_the_permutation_as_u32():
    image = np.random.default_rng(3).random((5, 7, 3), dtype=np.float32)
    t = OrderedPermutation.fit(image)
    assert t.params() == {"data_bytes": 4 * 35}
    assert np.array_equal(np.frombuffer(t.data(), "<u4"), t.perm)
    # the modality, not the transform, says where it applies: images admit it (it needs their 2-D grid)
    from nfcodec.modalities.image import IMAGE

    assert "ordered" in IMAGE.transforms
    with pytest.raises(ValueError):
        OrderedPermutation.fit(image.reshape(35, 3))  # needs the grid


def test_ordered_matches_the_committed_vectors():
    for e in json.loads(VECTORS.read_text())["ordered"]:
        values = np.asarray(e["pixels"], np.uint8).astype(np.float32) * np.float32(1 / 255)
        assert OrderedPermutation.fit(values).perm.tolist() == e["perm"]
