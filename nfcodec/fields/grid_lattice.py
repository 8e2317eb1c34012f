"""Separable grid kernels for points on a 2-D lattice (every pixel centre of an image, or of a
block of whole rows), used by the numba backend whenever the points form one.

Bilinear interpolation of a level is separable on a lattice: interpolate every vertex row
along the columns once (A[j, c]), then blend two rows of A for each output row. That replaces
4 random gathers per point and level by one pass over the level's vertices plus two streaming
passes, and the backward pass by the transposed passes, conflict-free in parallel, followed by
one scatter per vertex (not per point and corner) into the table. Cell positions and weights
use the same float32 arithmetic as grid_kernels (position = fma(scale, x, 0.5)); only the
order of the four-term sum differs, so results agree with the general kernels to ~1 ulp.
"""
from __future__ import annotations

import numpy as np

from . import grid_kernels

AVAILABLE = grid_kernels.AVAILABLE
if AVAILABLE:
    import numba
    from numba import prange


BACKWARD_BLOCKS = 2
MAX_VERTEX_WORK = 4  # lattice kernels only while a level's vertex box is at most this x the points


def lattice_worthwhile(u: np.ndarray, v: np.ndarray, scales: np.ndarray, n_levels: int) -> bool:
    """The separable kernels visit every vertex of each level's box over the lattice; a level
    far finer than the lattice (a file declaring a huge grid, or decoding at a small --scale)
    would make that box much larger than the points: the general kernels are then cheaper and
    bounded by the points."""
    budget = MAX_VERTEX_WORK * u.shape[0] * v.shape[0]
    u_span, v_span = float(u.max()) - float(u.min()), float(v.max()) - float(v.min())
    for level in range(n_levels):
        scale = float(scales[level])
        rows, cols = scale * u_span + 3, scale * v_span + 3
        if rows * cols > budget or rows * v.shape[0] > budget:
            return False
    return True


def lattice_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(u, v) if points [N, 2] are exactly {(u[r], v[c])} in row-major order, else None."""
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 2:
        return None
    n = points.shape[0]
    first = points[:, 0]
    changes = np.flatnonzero(first != first[0])
    width = int(changes[0]) if changes.size else n
    if n % width:
        return None
    rows = points.reshape(n // width, width, 2)
    u, v = rows[:, 0, 0], rows[0, :, 1]
    if not (np.array_equal(rows[:, :, 0], np.broadcast_to(u[:, None], rows.shape[:2]))
            and np.array_equal(rows[:, :, 1], np.broadcast_to(v[None, :], rows.shape[:2]))):
        return None
    return np.ascontiguousarray(u), np.ascontiguousarray(v)


def _cells(scale, x):  # pragma: no cover - jitted
    n = x.shape[0]
    g = np.empty(n, dtype=np.int64)
    t = np.empty(n, dtype=np.float32)
    for i in range(n):
        p = np.float32(scale * np.float64(x[i]) + 0.5)
        fl = np.float32(np.floor(p))
        g[i] = np.int64(fl)
        t[i] = p - fl
    return g, t


def _forward_lattice(u, v, table, scales, resolutions, sizes, offsets, hashed, n_levels, out):  # pragma: no cover
    h, w = u.shape[0], v.shape[0]
    n_feat = table.shape[1]
    one = np.float32(1.0)
    # pass 1, per level: the level's vertex rows interpolated at every column, stacked into one
    # buffer (row_base[level] is the level's first row in it)
    g0s = np.empty((n_levels, h), dtype=np.int64)
    t0s = np.empty((n_levels, h), dtype=np.float32)
    row_base = np.zeros(n_levels + 1, dtype=np.int64)
    for level in range(n_levels):
        g0, t0 = _cells(np.float64(scales[level]), u)
        j0 = g0.min()
        g0s[level] = g0 - j0
        t0s[level] = t0
        row_base[level + 1] = row_base[level] + g0.max() + 2 - j0
    along = np.empty((row_base[n_levels], w, n_feat), dtype=np.float32)
    for level in range(n_levels):
        scale = np.float64(scales[level])
        g0, _ = _cells(scale, u)
        g1, t1 = _cells(scale, v)
        res, size, is_hashed, base = resolutions[level], sizes[level], hashed[level], offsets[level]
        j0, k0 = g0.min(), g1.min()
        nj, nk = g0.max() + 2 - j0, g1.max() + 2 - k0
        for j in prange(nj):
            vertex_row = np.empty((nk, n_feat), dtype=np.float32)
            for k in range(nk):
                idx = base + grid_kernels._index2(j0 + j, k0 + k, res, size, is_hashed)
                for f in range(n_feat):
                    vertex_row[k, f] = table[idx, f]
            dst = row_base[level] + j
            for c in range(w):
                k = g1[c] - k0
                b = t1[c]
                for f in range(n_feat):
                    along[dst, c, f] = (one - b) * vertex_row[k, f] + b * vertex_row[k + 1, f]
    # pass 2, per output row: blend two rows of every level (the row's W x L x F block of
    # `out`, 64 KiB at W = 512, stays in cache while its levels are written in turn)
    for r in prange(h):
        base = r * w
        for level in range(n_levels):
            j = row_base[level] + g0s[level, r]
            a = t0s[level, r]
            lo_row, hi_row = along[j], along[j + 1]
            col = level * n_feat
            for c in range(w):
                for f in range(n_feat):
                    out[base + c, col + f] = (one - a) * lo_row[c, f] + a * hi_row[c, f]


def _backward_lattice(u, v, grad_out, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table, n_blocks):  # pragma: no cover
    h, w = u.shape[0], v.shape[0]
    n_feat = grad_table.shape[1]
    n_lv = level_hi - level_lo
    one = np.float32(1.0)
    g0s = np.empty((n_lv, h), dtype=np.int64)
    t0s = np.empty((n_lv, h), dtype=np.float32)
    row_base = np.zeros(n_lv + 1, dtype=np.int64)
    for lv in range(n_lv):
        g0, t0 = _cells(np.float64(scales[level_lo + lv]), u)
        j0 = g0.min()
        g0s[lv] = g0 - j0
        t0s[lv] = t0
        row_base[lv + 1] = row_base[lv] + g0.max() + 2 - j0
    n_rows = row_base[n_lv]
    # Pass 1, one sweep over grad_out in blocks of whole rows (one block per thread): each row
    # adds its gradient, weighted, to the two vertex rows of every level it lies between. Each
    # block accumulates privately (rows of a block share vertex rows); the blocks are summed.
    partial = np.zeros((n_blocks, n_rows, w, n_feat), dtype=np.float32)
    per_block = (h + n_blocks - 1) // n_blocks
    for b in prange(n_blocks):
        acc = partial[b]
        for r in range(b * per_block, min(h, (b + 1) * per_block)):
            base = r * w
            for lv in range(n_lv):
                j = row_base[lv] + g0s[lv, r]
                a = t0s[lv, r]
                col = (level_lo + lv) * n_feat
                for c in range(w):
                    for f in range(n_feat):
                        g = grad_out[base + c, col + f]
                        acc[j, c, f] += (one - a) * g
                        acc[j + 1, c, f] += a * g
    along = partial[0]
    for b in range(1, n_blocks):
        along += partial[b]
    # Pass 2, per level and vertex row: spread each row of `along` over the two vertex columns
    # of every pixel column; then one scatter per vertex into the table
    for lv in range(n_lv):
        level = level_lo + lv
        scale = np.float64(scales[level])
        g0, _ = _cells(scale, u)
        g1, t1 = _cells(scale, v)
        j0, k0 = g0.min(), g1.min()
        nj, nk = g0.max() + 2 - j0, g1.max() + 2 - k0
        grad_vertices = np.zeros((nj, nk, n_feat), dtype=np.float32)
        for j in prange(nj):
            src = along[row_base[lv] + j]
            for c in range(w):
                k = g1[c] - k0
                b = t1[c]
                for f in range(n_feat):
                    grad_vertices[j, k, f] += (one - b) * src[c, f]
                    grad_vertices[j, k + 1, f] += b * src[c, f]
        # serial: beyond-edge and hashed vertices may share table rows
        res, size, is_hashed, base = resolutions[level], sizes[level], hashed[level], offsets[level]
        for j in range(nj):
            for k in range(nk):
                idx = base + grid_kernels._index2(j0 + j, k0 + k, res, size, is_hashed)
                for f in range(n_feat):
                    grad_table[idx, f] += grad_vertices[j, k, f]


if AVAILABLE:
    _cells = numba.njit(cache=True)(_cells)
    _forward_lattice = numba.njit(parallel=True, cache=True)(_forward_lattice)
    _backward_lattice = numba.njit(parallel=True, cache=True)(_backward_lattice)


def lattice_forward(u, v, table, scales, resolutions, sizes, offsets, hashed, n_levels, out) -> None:
    """out[r * W + c, l*F + f]: features of lattice point (u[r], v[c]) for levels < n_levels."""
    _forward_lattice(u, v, table, scales, resolutions, sizes, offsets, hashed, n_levels, out)


def lattice_backward(u, v, grad_out, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table) -> None:
    """grad_table += the transposed interpolation of grad_out, for levels in [level_lo, level_hi)."""
    # a fixed number of row blocks (not one per thread): the blocks' partial sums are added in
    # a fixed order, so gradients (and encoded files) do not depend on the machine's core count
    n_blocks = max(1, min(BACKWARD_BLOCKS, u.shape[0]))
    _backward_lattice(u, v, grad_out, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table, n_blocks)
