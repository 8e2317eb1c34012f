"""CPU kernels for the grid encoding (numba, parallel), used when numba is importable.

Forward: one pass over the points (parallel), each point visiting its 2^D corners on every
level and writing its features; no index arrays are materialised, so memory traffic is the
points, the features and the touched table rows. Backward: parallel over levels, each thread
scattering into its own level's slice of the gradient (levels never share entries), so there
are no atomics and no per-thread buffers; only the levels being trained are visited. The
feature gradient arrives point-major ([N, L*F]); it is first regrouped level-major ([L, N, F],
one parallel pass), so each level's pass streams 8 bytes per point instead of pulling a whole
128-byte row through the cache for them.
Arithmetic follows grid_layout.corner_indices_weights: position = fma(scale, x, 0.5) in float32.
"""
from __future__ import annotations

import numpy as np

try:  # the accelerator is optional: GridEncoding falls back to plain torch without it
    import numba
    from numba import prange

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised on machines without numba
    numba = None
    AVAILABLE = False

MASK32 = np.uint64(0xFFFFFFFF)
PRIMES_U64 = np.array([1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737], dtype=np.uint64)


def _corner(pos_floor, frac, corner, dim, level_res, level_size, is_hashed, primes):  # pragma: no cover - jitted
    """Level-local index and weight of one corner of the cell at pos_floor."""
    weight = np.float32(1.0)
    if is_hashed:
        acc = np.uint64(0)
        for d in range(dim):
            bit = (corner >> d) & 1
            v = np.uint64(pos_floor[d] + bit)
            acc ^= (v * primes[d]) & MASK32
            weight *= frac[d] if bit else np.float32(1.0) - frac[d]
        return np.int64(acc % np.uint64(level_size)), weight
    acc = np.int64(0)
    stride = np.int64(1)
    for d in range(dim):
        bit = (corner >> d) & 1
        acc += (pos_floor[d] + bit) * stride
        stride *= level_res[d]
        weight *= frac[d] if bit else np.float32(1.0) - frac[d]
    return acc % level_size, weight


def _forward(coords, table, scales, resolutions, sizes, offsets, hashed, n_levels, out):  # pragma: no cover - jitted
    n, dim = coords.shape
    n_feat = table.shape[1]
    primes = PRIMES_U64
    for i in prange(n):
        pos_floor = np.empty(dim, dtype=np.int64)
        frac = np.empty(dim, dtype=np.float32)
        for level in range(n_levels):
            for d in range(dim):
                p = np.float32(np.float64(scales[level, d]) * np.float64(coords[i, d]) + 0.5)
                fl = np.float32(np.floor(p))
                pos_floor[d] = np.int64(fl)
                frac[d] = p - fl
            base = offsets[level]
            for f in range(n_feat):
                out[i, level * n_feat + f] = 0.0
            for corner in range(1 << dim):
                idx, w = _corner(pos_floor, frac, corner, dim, resolutions[level], sizes[level], hashed[level], primes)
                for f in range(n_feat):
                    out[i, level * n_feat + f] += w * table[base + idx, f]


def _by_level(grad_out, level_lo, level_hi, n_feat, out):  # pragma: no cover - jitted
    """out[l - level_lo, i, f] = grad_out[i, l * n_feat + f] for levels [level_lo, level_hi)."""
    n = grad_out.shape[0]
    for i in prange(n):
        for level in range(level_lo, level_hi):
            for f in range(n_feat):
                out[level - level_lo, i, f] = grad_out[i, level * n_feat + f]


def _backward(coords, grad_lv, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table):  # pragma: no cover
    n, dim = coords.shape
    n_feat = grad_table.shape[1]
    primes = PRIMES_U64
    for level in prange(level_lo, level_hi):
        pos_floor = np.empty(dim, dtype=np.int64)
        frac = np.empty(dim, dtype=np.float32)
        base = offsets[level]
        for i in range(n):
            for d in range(dim):
                p = np.float32(np.float64(scales[level, d]) * np.float64(coords[i, d]) + 0.5)
                fl = np.float32(np.floor(p))
                pos_floor[d] = np.int64(fl)
                frac[d] = p - fl
            for corner in range(1 << dim):
                idx, w = _corner(pos_floor, frac, corner, dim, resolutions[level], sizes[level], hashed[level], primes)
                for f in range(n_feat):
                    grad_table[base + idx, f] += w * grad_lv[level - level_lo, i, f]


def _cell2(scale0, scale1, x0, x1):  # pragma: no cover - jitted
    p0 = np.float32(scale0 * np.float64(x0) + 0.5)
    p1 = np.float32(scale1 * np.float64(x1) + 0.5)
    f0 = np.float32(np.floor(p0))
    f1 = np.float32(np.floor(p1))
    return np.int64(f0), np.int64(f1), p0 - f0, p1 - f1


def _index2(g0, g1, res0, size, is_hashed):  # pragma: no cover - jitted
    """Level-local entry of vertex (g0, g1); res0: the level's vertices along axis 0."""
    if is_hashed:  # hashed levels hold exactly 2^T entries: the modulo is a mask
        h = (np.uint64(g0) ^ ((np.uint64(g1) * np.uint64(2654435761)) & MASK32)) & np.uint64(size - 1)
        return np.int64(h)
    idx = g0 + g1 * res0
    return idx % size if idx >= size else idx


def _corners2(scale0, scale1, x0, x1, res, size, is_hashed, base):  # pragma: no cover - jitted
    """Table rows and bilinear weights of the 4 corners, in corner order 00, 10, 01, 11."""
    g0, g1, t0, t1 = _cell2(scale0, scale1, x0, x1)
    one = np.float32(1.0)
    w00 = (one - t0) * (one - t1)
    w10 = t0 * (one - t1)
    w01 = (one - t0) * t1
    w11 = t0 * t1
    i00 = base + _index2(g0, g1, res, size, is_hashed)
    i10 = base + _index2(g0 + 1, g1, res, size, is_hashed)
    i01 = base + _index2(g0, g1 + 1, res, size, is_hashed)
    i11 = base + _index2(g0 + 1, g1 + 1, res, size, is_hashed)
    return i00, i10, i01, i11, w00, w10, w01, w11


def _forward2(coords, table, scales, resolutions, sizes, offsets, hashed, n_levels, out):  # pragma: no cover - jitted
    n = coords.shape[0]
    n_feat = table.shape[1]
    for i in prange(n):
        x0 = coords[i, 0]
        x1 = coords[i, 1]
        for level in range(n_levels):
            i00, i10, i01, i11, w00, w10, w01, w11 = _corners2(
                np.float64(scales[level, 0]), np.float64(scales[level, 1]), x0, x1, resolutions[level, 0], sizes[level],
                hashed[level], offsets[level]
            )
            for f in range(n_feat):
                acc = w00 * table[i00, f]
                acc += w10 * table[i10, f]
                acc += w01 * table[i01, f]
                acc += w11 * table[i11, f]
                out[i, level * n_feat + f] = acc


def _backward2(coords, grad_lv, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table):  # pragma: no cover
    n = coords.shape[0]
    n_feat = grad_table.shape[1]
    for level in prange(level_lo, level_hi):
        scale0, scale1 = np.float64(scales[level, 0]), np.float64(scales[level, 1])
        res, size, hsh, base = resolutions[level, 0], sizes[level], hashed[level], offsets[level]
        for i in range(n):
            i00, i10, i01, i11, w00, w10, w01, w11 = _corners2(scale0, scale1, coords[i, 0], coords[i, 1], res, size, hsh, base)
            for f in range(n_feat):
                g = grad_lv[level - level_lo, i, f]
                grad_table[i00, f] += w00 * g
                grad_table[i10, f] += w10 * g
                grad_table[i01, f] += w01 * g
                grad_table[i11, f] += w11 * g


if AVAILABLE:
    _corner = numba.njit(inline="always", cache=True)(_corner)
    _cell2 = numba.njit(inline="always", cache=True)(_cell2)
    _index2 = numba.njit(inline="always", cache=True)(_index2)
    _corners2 = numba.njit(inline="always", cache=True)(_corners2)
    _grid_forward_nd = numba.njit(parallel=True, cache=True)(_forward)
    _grid_backward_nd = numba.njit(parallel=True, cache=True)(_backward)
    _grid_forward_2d = numba.njit(parallel=True, cache=True)(_forward2)
    _grid_backward_2d = numba.njit(parallel=True, cache=True)(_backward2)
    _grid_by_level = numba.njit(parallel=True, cache=True)(_by_level)


def grid_forward(coords, table, scales, resolutions, sizes, offsets, hashed, n_levels, out):
    """out[i, l*F + f] = sum over corners of weight * table[offset_l + index, f] (levels < n_levels)."""
    kernel = _grid_forward_2d if coords.shape[1] == 2 else _grid_forward_nd
    kernel(coords, table, scales, resolutions, sizes, offsets, hashed, n_levels, out)


def grid_backward(coords, grad_out, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table):
    """grad_table[offset_l + index] += weight * grad_out for levels in [level_lo, level_hi)."""
    n_feat = grad_table.shape[1]
    grad_lv = np.empty((level_hi - level_lo, grad_out.shape[0], n_feat), dtype=grad_out.dtype)
    _grid_by_level(grad_out, level_lo, level_hi, n_feat, grad_lv)
    kernel = _grid_backward_2d if coords.shape[1] == 2 else _grid_backward_nd
    kernel(coords, grad_lv, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table)
