"""Grid layout compatibility with tiny-cuda-nn (hand-computed cases), kernels, progressive rules."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nfcodec.fields import grid_kernels
from nfcodec.fields.base import Lattice
from nfcodec.fields.grid import grid_field
from nfcodec.fields.grid_layout import GridConfig, corner_indices_weights, grid_layout, vertex_index
from nfcodec.fields.hashgrid import GridEncoding, torch_corner_indices_weights
from nfcodec.fields.tcnn_compat import load_tcnn, mlp_shapes, to_tcnn
from nfcodec.train import InMemorySampler, TrainConfig, fit_stage


def test_level_sizes_and_offsets_dense_2d():
    # scale_l = 2^l * 4 - 1 = 3, 7, 15 -> res 4, 8, 16 -> 16, 64, 256 entries, all dense
    layout = grid_layout(GridConfig(in_dim=2, n_levels=3, n_features=2, log2_hashmap_size=10, base_resolution=4, per_level_scale=2.0))
    assert layout.scales[:, 0].tolist() == [3.0, 7.0, 15.0] and layout.scales[:, 1].tolist() == [3.0, 7.0, 15.0]
    assert layout.resolutions[:, 0].tolist() == [4, 8, 16]
    assert layout.sizes.tolist() == [16, 64, 256]
    assert layout.offsets.tolist() == [0, 16, 80, 336]
    assert not layout.hashed.any()
    assert layout.n_params == 672


def test_padding_to_eight_and_the_dense_hashed_split_3d():
    # level 0: res 3 -> 27 entries, padded to 32; level 1: res 6 -> 216 > 2^6 -> hashed, 64 entries
    layout = grid_layout(GridConfig(in_dim=3, n_levels=2, n_features=4, log2_hashmap_size=6, base_resolution=3, per_level_scale=2.0))
    assert layout.resolutions[:, 2].tolist() == [3, 6]
    assert layout.sizes.tolist() == [32, 64]
    assert layout.hashed.tolist() == [False, True]
    assert layout.offsets.tolist() == [0, 32, 96]


def test_hashed_and_dense_vertex_indices():
    layout = grid_layout(GridConfig(in_dim=3, n_levels=2, n_features=1, log2_hashmap_size=6, base_resolution=3, per_level_scale=2.0))
    # (1*1 xor 2*2654435761 xor 3*805459861) mod 2^32, then mod 64, computed by hand with Python ints
    assert vertex_index(np.array([[1, 2, 3]]), 1, layout).tolist() == [28]
    # dense level 0 (res 3): x + 3y + 9z
    assert vertex_index(np.array([[1, 2, 0], [2, 2, 2]]), 0, layout).tolist() == [7, 26]
    layout2 = grid_layout(GridConfig(in_dim=2, n_levels=1, n_features=2, log2_hashmap_size=10, base_resolution=4))
    # upper-edge vertex x = res wraps modulo the level size: 4 + 3 * 4 = 16 -> 0
    assert vertex_index(np.array([[4, 3]]), 0, layout2).tolist() == [0]


def test_half_offset_position_rule():
    layout = grid_layout(GridConfig(in_dim=2, n_levels=1, n_features=2, log2_hashmap_size=10, base_resolution=4))
    # p = 3 * 0.5 + 0.5 = 2 exactly: all weight on vertex (2, 2) -> index 2 + 2 * 4 = 10
    idx, w = corner_indices_weights(np.array([[0.5, 0.5]], dtype=np.float32), 0, layout)
    assert idx[0, 0] == 10 and w[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    # p = 3 * 0.25 + 0.5 = 1.25 on both axes
    idx, w = corner_indices_weights(np.array([[0.25, 0.25]], dtype=np.float32), 0, layout)
    assert idx[0].tolist() == [5, 6, 9, 10]
    assert np.allclose(w[0], [0.5625, 0.1875, 0.1875, 0.0625])


@pytest.mark.parametrize("dim, log2_size", [(2, 8), (3, 7)])
def test_torch_and_numpy_indices_agree_and_kernels_match_torch(dim, log2_size):
    config = GridConfig(in_dim=dim, n_levels=5, n_features=2, log2_hashmap_size=log2_size, base_resolution=4, per_level_scale=1.7)
    encoding = GridEncoding(config)
    assert encoding.layout.hashed.any() and not encoding.layout.hashed.all()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        encoding.table.uniform_(-1, 1, generator=g)
    x = torch.rand(777, dim, generator=g)
    for level in range(config.n_levels):
        i_np, w_np = corner_indices_weights(x.numpy(), level, encoding.layout)
        i_t, w_t = torch_corner_indices_weights(x, level, encoding.layout)
        assert np.array_equal(i_np, i_t.numpy()) and np.array_equal(w_np, w_t.numpy())
    reference = encoding(x, backend="torch")
    upstream = torch.randn(reference.shape, generator=g)
    (grad_ref,) = torch.autograd.grad((reference * upstream).sum(), encoding.table)
    if not grid_kernels.AVAILABLE:
        pytest.skip("numba not installed")
    fast = encoding(x, backend="numba")
    (grad_fast,) = torch.autograd.grad((fast * upstream).sum(), encoding.table)
    assert torch.equal(fast, reference)
    assert torch.allclose(grad_fast, grad_ref, atol=1e-6)


def _small_grid(mlp=(8, 16, 24)):
    config = GridConfig(in_dim=2, n_levels=6, n_features=2, log2_hashmap_size=8, base_resolution=4, per_level_scale=1.5)
    return grid_field((2, 4, 6), mlp, config, out_dim=3, hidden_layers=2)


def test_lattice_kernels_only_where_their_vertex_work_stays_bounded():
    from nfcodec.fields.grid_lattice import lattice_worthwhile

    u, v = Lattice.sample_centres((64, 96)).axes
    assert lattice_worthwhile(u, v, np.array([[15.0, 15.0], [95.0, 95.0]], dtype=np.float32), 2)
    # a level 2^14 vertices across over a 64 x 96 image: the general kernels, not a 2^28 box
    assert not lattice_worthwhile(u, v, np.array([[15.0, 15.0], [16383.0, 16383.0]], dtype=np.float32), 2)
    assert lattice_worthwhile(u, v, np.array([[15.0, 15.0], [16383.0, 16383.0]], dtype=np.float32), 1)  # that level unused


def test_undeclared_points_take_the_general_kernels_and_agree():
    """Nothing guesses a lattice from coordinates: the same points with and without the
    declaration give the same features (to ~1 ulp), and a declaration that does not match the
    points' count is ignored rather than trusted."""
    if not grid_kernels.AVAILABLE:
        pytest.skip("numba not installed")
    encoding = GridEncoding(GridConfig(in_dim=2, n_levels=3, n_features=2, log2_hashmap_size=8, base_resolution=4, per_level_scale=1.5))
    with torch.no_grad():
        encoding.table.uniform_(-1, 1, generator=torch.Generator().manual_seed(0))
    lattice = Lattice.sample_centres((6, 5))
    x = torch.from_numpy(lattice.coords())
    declared, plain = encoding(x, lattice=lattice), encoding(x)
    assert torch.allclose(declared, plain, atol=2e-6)
    assert torch.equal(encoding(x[:-5], lattice=lattice), encoding(x[:-5]))


LATTICES = {
    "image": ((13, 21), None, 2),
    "image rows": ((13, 21), slice(3, 11), 2),
    "frames": ((9, 7, 10), None, 3),
    "one frame": ((9, 7, 10), slice(4, 5), 3),
}


@pytest.mark.parametrize("log2_size", [6, 12])
@pytest.mark.parametrize("case", sorted(LATTICES))
@pytest.mark.parametrize("per_axis", [False, True])
def test_lattice_kernels_match_torch(log2_size, case, per_axis):
    """Declared lattices (an image, a block of its rows, frames of a clip, one frame) take the
    separable kernels; values and table gradients agree with the plain torch path, also for
    hashed and beyond-edge vertices and per-axis resolutions."""
    if not grid_kernels.AVAILABLE:
        pytest.skip("numba not installed")
    shape, first, dim = LATTICES[case]
    base, scale = ((3, 2, 4)[:dim], (1.9, 1.4, 2.1)[:dim]) if per_axis else (3, 1.9)
    config = GridConfig(in_dim=dim, n_levels=5, n_features=2, log2_hashmap_size=log2_size, base_resolution=base, per_level_scale=scale)
    encoding = GridEncoding(config)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        encoding.table.uniform_(-1, 1, generator=g)
    lattice = Lattice.sample_centres(shape, first)
    x = torch.from_numpy(lattice.coords())
    reference = encoding(x, backend="torch")
    upstream = torch.randn(reference.shape, generator=g)
    (grad_ref,) = torch.autograd.grad((reference * upstream).sum(), encoding.table)
    fast = encoding(x, backend="numba", grad_levels=(1, 4), lattice=lattice)
    (grad_fast,) = torch.autograd.grad((fast * upstream).sum(), encoding.table)
    assert torch.allclose(fast, reference, atol=2e-6, rtol=1e-6)
    f = config.n_features
    lo, hi = int(encoding.layout.offsets[1]) * f, int(encoding.layout.offsets[4]) * f
    assert torch.all(grad_fast[:lo] == 0) and torch.all(grad_fast[hi:] == 0)
    assert torch.allclose(grad_fast[lo:hi], grad_ref[lo:hi], atol=1e-5, rtol=1e-5)


def test_per_axis_resolution_layout():
    """A time axis with its own N_min and b: per-axis vertex counts, a dense level's size their
    product, the scalar form kept when every axis agrees (tiny-cuda-nn's layout)."""
    config = GridConfig(in_dim=3, n_levels=2, n_features=2, log2_hashmap_size=12, base_resolution=(2, 4, 4), per_level_scale=(1.5, 2.0, 2.0))
    layout = grid_layout(config)
    assert layout.resolutions.tolist() == [[2, 4, 4], [3, 8, 8]]  # scales 1, 3, 3 then 2, 7, 7
    assert layout.sizes.tolist() == [32, 192]
    assert vertex_index(np.array([[1, 2, 3]]), 1, layout).tolist() == [1 + 2 * 3 + 3 * 24]
    assert GridConfig(in_dim=2, base_resolution=(16, 16), per_level_scale=(2.0, 2.0)) == GridConfig(in_dim=2)
    with pytest.raises(ValueError):
        GridConfig(in_dim=3, base_resolution=(2, 4))


def test_earlier_widths_stay_bit_identical_while_later_stages_train():
    field = _small_grid()
    g = torch.Generator().manual_seed(1)
    coords = torch.rand(400, 2, generator=g)
    values = torch.sin(6 * coords[:, :1]) * torch.cos(4 * coords[:, 1:]) * torch.ones(1, 3) * 0.4 + 0.5
    snapshots = {}
    for stage in (1, 2, 3):
        field.grow(stage, g)
        fit_stage(field, stage, InMemorySampler(coords, values, 1 << 15), TrainConfig(steps=12, lr=1e-2), g)
        with torch.no_grad():
            snapshots[stage] = field.forward(coords, stage).clone()
            for earlier in range(1, stage):
                assert torch.equal(field.forward(coords, earlier), snapshots[earlier]), (stage, earlier)
    assert not torch.equal(snapshots[3], snapshots[2])


def test_stage_tensors_partition_the_parameters_and_round_trip():
    field = _small_grid()
    g = torch.Generator().manual_seed(2)
    for stage in (1, 2, 3):
        field.grow(stage, g)
    tables = [field.stage_tensors(k)["table"] for k in (1, 2, 3)]
    assert sum(t.size for t in tables) == field.encoding.layout.n_params
    other = _small_grid()
    for k in (1, 2, 3):
        other.load_stage_tensors(k, field.stage_tensors(k))
    x = torch.rand(50, 2, generator=g)
    assert torch.equal(other.forward(x, 3), field.forward(x, 3))


def test_tcnn_parameter_vector_round_trip():
    field = _small_grid(mlp=(8, 16, 40))  # 40 is no tcnn width: padded to 64 with zero units
    g = torch.Generator().manual_seed(3)
    for stage in (1, 2, 3):
        field.grow(stage, g)
    with torch.no_grad():
        field.mlp.out_bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    model = to_tcnn(field)
    shapes = mlp_shapes(6, 2, 64, 2, 3)
    assert shapes == [(64, 16), (64, 64), (16, 64)]
    mlp_size = sum(a * b for a, b in shapes)
    assert model.params.size == mlp_size + field.encoding.layout.n_params
    # layout spot checks: first MLP entry, a padded (zero) input column, table start
    assert model.params[0] == field.mlp.weights[0][0, 0].item()
    assert model.params[12] == 0.0  # column 12 of row 0: inputs 12..15 are zero padding
    assert np.array_equal(model.params[mlp_size:], field.encoding.grid.table.detach().numpy())
    assert model.network_config["n_neurons"] == 64 and model.encoding_config["otype"] == "HashGrid"
    other = _small_grid(mlp=(8, 16, 40))
    load_tcnn(other, model)
    x = torch.rand(64, 2, generator=g)
    assert torch.equal(other.forward(x, 3), field.forward(x, 3))
    bad = np.array(model.params)
    bad[12] = 1.0
    with pytest.raises(ValueError):
        load_tcnn(other, type(model)(**{**model.__dict__, "params": bad}))


def test_lattice_gradients_do_not_depend_on_the_thread_count():
    """Encoded files must not depend on the machine: every lattice sum runs in a fixed order."""
    import numba


    if not grid_kernels.AVAILABLE or numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs numba with 2 threads")
    config = GridConfig(in_dim=2, n_levels=6, n_features=2, log2_hashmap_size=8, base_resolution=4, per_level_scale=1.8)
    encoding = GridEncoding(config)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        encoding.table.uniform_(-1, 1, generator=g)
    lattice = Lattice.sample_centres((40, 56))
    x = torch.from_numpy(lattice.coords())
    upstream = torch.randn(x.shape[0], 12, generator=g)
    grads = []
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            (grad,) = torch.autograd.grad((encoding(x, backend="numba", lattice=lattice) * upstream).sum(), encoding.table)
            grads.append(grad)
    finally:
        numba.set_num_threads(before)
    assert torch.equal(grads[0], grads[1])


@pytest.mark.parametrize("rows", [slice(None), slice(2, 9)])
def test_bf16_features_equal_the_cast_and_carry_the_same_gradient(rows):
    """Under bf16 autocast the grid hands the MLP bf16 features itself (the kernels round as
    they write); they must be exactly what casting the float32 features gives, on every path
    (lattice, scattered 2-D and 3-D points), and the gradient through them the same."""

    config = GridConfig(in_dim=2, n_levels=4, n_features=2, log2_hashmap_size=7, base_resolution=3, per_level_scale=1.9)
    encoding = GridEncoding(config)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        encoding.table.uniform_(-1, 1, generator=g)
    lattice = Lattice.sample_centres((11, 17), rows)
    scattered = torch.rand(150, 2, generator=g)
    backends = ["torch"] + (["numba"] if grid_kernels.AVAILABLE else [])
    _check_bf16_features(encoding, ((torch.from_numpy(lattice.coords()), lattice), (scattered, None)), backends, g)
    volume = GridEncoding(GridConfig(in_dim=3, n_levels=3, n_features=2, log2_hashmap_size=7, base_resolution=3, per_level_scale=1.9))
    with torch.no_grad():
        volume.table.uniform_(-1, 1, generator=g)
    frames = Lattice.sample_centres((5, 6, 7), slice(1, 4))
    inputs = ((torch.rand(90, 3, generator=g), None), (torch.from_numpy(frames.coords()), frames))
    _check_bf16_features(volume, inputs, backends, g)


def _check_bf16_features(encoding, inputs, backends, g):
    for x, lattice in inputs:
        for backend in backends:
            full = encoding(x, backend=backend, lattice=lattice)
            half = encoding(x, backend=backend, dtype=torch.bfloat16, lattice=lattice)
            assert half.dtype == torch.bfloat16
            assert torch.equal(half, full.to(torch.bfloat16)), backend
            upstream = torch.randn(full.shape, generator=g).to(torch.bfloat16).float()
            (grad_full,) = torch.autograd.grad((full * upstream).sum(), encoding.table)
            (grad_half,) = torch.autograd.grad((half.float() * upstream).sum(), encoding.table)
            assert torch.allclose(grad_half, grad_full, atol=1e-6, rtol=1e-6), backend
