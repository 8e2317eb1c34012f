"""Separable grid kernels for points on a 3-D lattice: a few frames of a clip, each a block of
whole rows (t[a], u[r], v[c]), used by the numba backend when the caller declares such a lattice.

The 2-D scheme of grid_lattice.py with a time axis: for every level, the time-vertex planes the
frames fall between (each plane once, however many frames share it) give vertex rows (plane,
row); pass 1 interpolates every such row along the columns once; pass 2 blends, per output row,
four of those rows (two planes x two rows) with the trilinear weights. Backward runs the
transposed passes, then one scatter per vertex into the table. Every sum is accumulated in a
fixed order whatever the thread count; results agree with the general kernels to ~1 ulp.
"""
from __future__ import annotations

import numpy as np

from . import grid_kernels, grid_lattice

AVAILABLE = grid_kernels.AVAILABLE
if AVAILABLE:
    import numba
    from numba import prange

MASK32 = np.uint64(0xFFFFFFFF)


def worthwhile(t: np.ndarray, u: np.ndarray, v: np.ndarray, scales: np.ndarray, n_levels: int) -> bool:
    """Whether every level's vertex box over the lattice stays within a few times the points
    (grid_lattice.lattice_worthwhile, with at most two time planes per frame)."""
    budget = grid_lattice.MAX_VERTEX_WORK * t.shape[0] * u.shape[0] * v.shape[0]
    u_span, v_span = float(u.max() - u.min()), float(v.max() - v.min())
    planes = 2 * t.shape[0]  # at most two per frame
    for level in range(n_levels):
        rows, cols = float(scales[level, 1]) * u_span + 3, float(scales[level, 2]) * v_span + 3
        if planes * rows * cols > budget or planes * rows * v.shape[0] > budget:
            return False
    return True


def _index3(m, j, k, res0, res1, size, is_hashed):  # pragma: no cover - jitted
    """Level-local entry of vertex (m, j, k) (time, row, column), as grid_kernels._corner."""
    if is_hashed:  # hashed levels hold exactly 2^T entries: the modulo is a mask
        h = np.uint64(m) ^ ((np.uint64(j) * np.uint64(2654435761)) & MASK32) ^ ((np.uint64(k) * np.uint64(805459861)) & MASK32)
        return np.int64(h & np.uint64(size - 1))
    idx = m + j * res0 + k * res0 * res1
    return idx % size if idx >= size else idx


def _plan3(t, u, v, scales, level_lo, level_hi):  # pragma: no cover - jitted
    """Per level lv: the distinct time planes (plane[lv, :n_planes[lv]]), each frame's two
    plane slots and time weight, each row's and column's cell (relative to the level's box)
    and weight, and row_base: the first stacked vertex row (plane slot, row) of each level."""
    n_lv = level_hi - level_lo
    n_t, h, w = t.shape[0], u.shape[0], v.shape[0]
    planes = np.empty((n_lv, 2 * n_t), dtype=np.int64)
    n_planes = np.empty(n_lv, dtype=np.int64)
    slot0 = np.empty((n_lv, n_t), dtype=np.int64)
    wts = np.empty((n_lv, n_t), dtype=np.float32)
    g0s = np.empty((n_lv, h), dtype=np.int64)
    t0s = np.empty((n_lv, h), dtype=np.float32)
    g1s = np.empty((n_lv, w), dtype=np.int64)
    t1s = np.empty((n_lv, w), dtype=np.float32)
    j0s = np.empty(n_lv, dtype=np.int64)
    k0s = np.empty(n_lv, dtype=np.int64)
    njs = np.empty(n_lv, dtype=np.int64)
    nks = np.empty(n_lv, dtype=np.int64)
    row_base = np.zeros(n_lv + 1, dtype=np.int64)
    for lv in range(n_lv):
        level = level_lo + lv
        gt, wt = grid_lattice._cells(np.float64(scales[level, 0]), t)
        # the frames arrive in increasing time: their planes g, g + 1 are sorted already
        count = 0
        for a in range(n_t):
            for m in (gt[a], gt[a] + 1):
                if count == 0 or planes[lv, count - 1] < m:
                    planes[lv, count] = m
                    count += 1
        n_planes[lv] = count
        for a in range(n_t):
            s = 0
            while planes[lv, s] != gt[a]:
                s += 1
            slot0[lv, a] = s  # its upper plane gt[a] + 1 is slot s + 1
        wts[lv] = wt
        g0, t0 = grid_lattice._cells(np.float64(scales[level, 1]), u)
        g1, t1 = grid_lattice._cells(np.float64(scales[level, 2]), v)
        j0s[lv], k0s[lv] = g0.min(), g1.min()
        g0s[lv], t0s[lv] = g0 - j0s[lv], t0
        g1s[lv], t1s[lv] = g1 - k0s[lv], t1
        njs[lv] = g0.max() + 2 - j0s[lv]
        nks[lv] = g1.max() + 2 - k0s[lv]
        row_base[lv + 1] = row_base[lv] + count * njs[lv]
    return planes, n_planes, slot0, wts, g0s, t0s, g1s, t1s, j0s, k0s, njs, nks, row_base


def _forward3(t, u, v, table, scales, resolutions, sizes, offsets, hashed, n_levels, out_words, wpg, to_bf16):  # pragma: no cover
    n_t, h, w = t.shape[0], u.shape[0], v.shape[0]
    n_feat = table.shape[1]
    wf = w * n_feat
    one = np.float32(1.0)
    planes, _, slot0, wts, g0s, t0s, g1s, t1s, j0s, k0s, njs, nks, row_base = _plan3(t, u, v, scales, 0, n_levels)
    # pass 1: every vertex row (plane, row) of every level, interpolated at every column
    along = np.empty((row_base[n_levels], wf), dtype=np.float32)
    for row in prange(row_base[n_levels]):
        level = grid_lattice._level_of(row_base, row)
        local = row - row_base[level]
        m, j = planes[level, local // njs[level]], j0s[level] + local % njs[level]
        nk = nks[level]
        res0, res1 = resolutions[level, 0], resolutions[level, 1]
        size, is_hashed, base = sizes[level], hashed[level], offsets[level]
        vertex_row = np.empty((nk, n_feat), dtype=np.float32)
        for k in range(nk):
            idx = base + _index3(m, j, k0s[level] + k, res0, res1, size, is_hashed)
            for f in range(n_feat):
                vertex_row[k, f] = table[idx, f]
        dst = along[row]
        for c in range(w):
            k = g1s[level, c]
            b = t1s[level, c]
            for f in range(n_feat):
                dst[c * n_feat + f] = (one - b) * vertex_row[k, f] + b * vertex_row[k + 1, f]
    # pass 2, per output row (frame a, row r): blend four rows of `along` per level, transpose
    for task in prange(n_t * h):
        a, r = task // h, task % h
        block = np.empty((n_levels, wf), dtype=np.float32)
        for level in range(n_levels):
            nj = njs[level]
            lo = row_base[level] + slot0[level, a] * nj + g0s[level, r]
            hi = lo + nj  # the same row on the upper plane
            wt, wr = wts[level, a], t0s[level, r]
            w00, w01, w10, w11 = (one - wt) * (one - wr), (one - wt) * wr, wt * (one - wr), wt * wr
            r00, r01, r10, r11, dst = along[lo], along[lo + 1], along[hi], along[hi + 1], block[level]
            for q in range(wf):
                dst[q] = w00 * r00[q] + w01 * r01[q] + w10 * r10[q] + w11 * r11[q]
        grid_lattice._row_to_points(block, out_words, task * w, w, n_levels, n_feat, wpg, to_bf16)


def _backward3(t, u, v, grad_words, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table, n_groups, wpg, from_bf16):  # pragma: no cover
    n_t, h, w = t.shape[0], u.shape[0], v.shape[0]
    n_feat = grad_table.shape[1]
    wf = w * n_feat
    n_lv = level_hi - level_lo
    one = np.float32(1.0)
    planes, n_planes, slot0, wts, g0s, t0s, g1s, t1s, j0s, k0s, njs, nks, row_base = _plan3(t, u, v, scales, level_lo, level_hi)
    n_rows = row_base[n_lv]
    # pass 1, the transposed blend: each thread owns a group of levels (and their rows of
    # `along`) and sweeps every output row in order
    along = np.empty((n_rows, wf), dtype=np.float32)
    for group in prange(n_groups):
        lv_a = group * n_lv // n_groups
        lv_b = (group + 1) * n_lv // n_groups
        along[row_base[lv_a]:row_base[lv_b]] = 0.0
        block = np.empty((lv_b - lv_a, wf), dtype=np.float32)
        for task in range(n_t * h):
            a, r = task // h, task % h
            grid_lattice._points_to_row(grad_words, block, task * w, w, lv_a, lv_b, level_lo, n_feat, wpg, from_bf16)
            for lv in range(lv_a, lv_b):
                nj = njs[lv]
                lo = row_base[lv] + slot0[lv, a] * nj + g0s[lv, r]
                hi = lo + nj
                wt, wr = wts[lv, a], t0s[lv, r]
                w00, w01, w10, w11 = (one - wt) * (one - wr), (one - wt) * wr, wt * (one - wr), wt * wr
                r00, r01, r10, r11, src = along[lo], along[lo + 1], along[hi], along[hi + 1], block[lv - lv_a]
                for q in range(wf):
                    g = src[q]
                    r00[q] += w00 * g
                    r01[q] += w01 * g
                    r10[q] += w10 * g
                    r11[q] += w11 * g
    # pass 2: spread every row of `along` over the two vertex columns of each pixel column
    grad_vertices, vertex_base = grid_lattice._vertex_gradients(along, row_base, nks, g1s, t1s, w, n_feat)
    # pass 3: one scatter per vertex into the table; levels own disjoint entries, so each level
    # is one thread's, its vertices added in order (the same order whatever the thread count).
    # Levels go to threads balanced by their vertex counts (the finest hold most).
    owner = np.empty(n_lv, dtype=np.int64)
    load = np.zeros(n_groups, dtype=np.int64)
    for lv in np.argsort(-(vertex_base[1:] - vertex_base[:-1])):
        owner[lv] = np.argmin(load)
        load[owner[lv]] += vertex_base[lv + 1] - vertex_base[lv]
    for group in prange(n_groups):
        for lv in range(n_lv):
            if owner[lv] == group:
                _scatter_level(lv, level_lo + lv, planes, n_planes, njs, nks, j0s, k0s, vertex_base, resolutions, sizes,
                               offsets, hashed, grad_vertices, grad_table)


def _scatter_level(lv, level, planes, n_planes, njs, nks, j0s, k0s, vertex_base, resolutions, sizes, offsets, hashed,
                   grad_vertices, grad_table):  # pragma: no cover - jitted
    """Add level `level`'s vertex gradients into its table entries, vertex by vertex in order."""
    n_feat = grad_table.shape[1]
    res0, res1 = resolutions[level, 0], resolutions[level, 1]
    size, is_hashed, base = sizes[level], hashed[level], offsets[level]
    nj, nk, j0, k0 = njs[lv], nks[lv], j0s[lv], k0s[lv]
    first = vertex_base[lv]
    for row in range(n_planes[lv] * nj):
        m, j = planes[lv, row // nj], j0 + row % nj
        for k in range(nk):
            idx = base + _index3(m, j, k0 + k, res0, res1, size, is_hashed)
            for f in range(n_feat):
                grad_table[idx, f] += grad_vertices[first + row * nk + k, f]


if AVAILABLE:
    _index3 = numba.njit(inline="always", cache=True)(_index3)
    _plan3 = numba.njit(cache=True)(_plan3)
    _scatter_level = numba.njit(cache=True)(_scatter_level)
    _forward3 = numba.njit(parallel=True, cache=True)(_forward3)
    _backward3 = numba.njit(parallel=True, cache=True)(_backward3)


def lattice_forward(t, u, v, table, scales, resolutions, sizes, offsets, hashed, n_levels, out) -> None:
    """out[(a * H + r) * W + c, l*F + f]: features of lattice point (t[a], u[r], v[c]) for
    levels < n_levels; `out` float32, or int16 to receive bfloat16 bits. `t` increasing."""
    out_words, wpg = grid_lattice._words(out, table.shape[1])
    _forward3(t, u, v, table, scales, resolutions, sizes, offsets, hashed, n_levels, out_words, wpg, out.dtype == np.int16)


def lattice_backward(t, u, v, grad_out, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table) -> None:
    """grad_table += the transposed trilinear interpolation of grad_out, levels [level_lo, level_hi)."""
    threads = numba.get_num_threads()
    grad_words, wpg = grid_lattice._words(np.ascontiguousarray(grad_out), grad_table.shape[1])
    n_groups = max(1, min(threads, level_hi - level_lo))  # pass 1's level groups, pass 3's level owners
    _backward3(
        t, u, v, grad_words, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table, n_groups, wpg,
        grad_out.dtype == np.int16,
    )
