"""Separable grid kernels for points on a 2-D lattice (every pixel centre of an image, or of a
block of whole rows), used by the numba backend when the caller declares one (fields.base.Lattice).

Bilinear interpolation of a level is separable on a lattice: interpolate every vertex row
along the columns once (A[j, c]), then blend two rows of A for each output row. That replaces
4 random gathers per point and level by one pass over the level's vertices plus two streaming
passes, and the backward pass by the transposed passes, conflict-free in parallel, followed by
one scatter per vertex (not per point and corner) into the table. Cell positions and weights
use the same float32 arithmetic as grid_kernels (position = fma(scale, x, 0.5)); only the
order of the four-term sum differs, so results agree with the general kernels to ~1 ulp.

The blends run over whole rows of A, contiguous W*F floats, so they vectorise; moving a row's
features between the level-major rows of A and the point-major [N, L*F] layout the MLP uses is
a transpose of F-float words (8-byte words for even F), done in cache one output row at a time.
Every sum is accumulated in a fixed order, whatever the number of threads, so gradients (and
encoded files) do not depend on the machine's core count.
"""
from __future__ import annotations

import numpy as np

from . import grid_kernels

AVAILABLE = grid_kernels.AVAILABLE
if AVAILABLE:
    import numba
    from numba import prange


MAX_VERTEX_WORK = 4  # lattice kernels only while a level's vertex box is at most this x the points
ROWS_PER_TASK = 8  # output rows per parallel task in the forward blend


def lattice_worthwhile(u: np.ndarray, v: np.ndarray, scales: np.ndarray, n_levels: int) -> bool:
    """The separable kernels visit every vertex of each level's box over the lattice; a level
    far finer than the lattice (a file declaring a huge grid, or decoding at a small --scale)
    would make that box much larger than the points: the general kernels are then cheaper and
    bounded by the points."""
    budget = MAX_VERTEX_WORK * u.shape[0] * v.shape[0]
    u_span, v_span = float(u.max()) - float(u.min()), float(v.max()) - float(v.min())
    for level in range(n_levels):
        rows, cols = float(scales[level, 0]) * u_span + 3, float(scales[level, 1]) * v_span + 3
        if rows * cols > budget or rows * v.shape[0] > budget:
            return False
    return True


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


def _plan(u, v, scales, level_lo, level_hi):  # pragma: no cover - jitted
    """Per level lv (level_lo + lv): each output row's vertex row (relative to the level's
    first, j0s[lv]) and blend weight, each column's vertex column (relative to k0s[lv]) and
    weight, the level's vertex box nj x nk, and row_base[lv]: its first row in the stacked
    buffer of all levels' vertex rows."""
    n_lv = level_hi - level_lo
    h, w = u.shape[0], v.shape[0]
    g0s = np.empty((n_lv, h), dtype=np.int64)
    t0s = np.empty((n_lv, h), dtype=np.float32)
    g1s = np.empty((n_lv, w), dtype=np.int64)
    t1s = np.empty((n_lv, w), dtype=np.float32)
    j0s = np.empty(n_lv, dtype=np.int64)
    k0s = np.empty(n_lv, dtype=np.int64)
    nks = np.empty(n_lv, dtype=np.int64)
    row_base = np.zeros(n_lv + 1, dtype=np.int64)
    for lv in range(n_lv):
        g0, t0 = _cells(np.float64(scales[level_lo + lv, 0]), u)
        g1, t1 = _cells(np.float64(scales[level_lo + lv, 1]), v)
        j0s[lv], k0s[lv] = g0.min(), g1.min()
        g0s[lv], t0s[lv] = g0 - j0s[lv], t0
        g1s[lv], t1s[lv] = g1 - k0s[lv], t1
        nks[lv] = g1.max() + 2 - k0s[lv]
        row_base[lv + 1] = row_base[lv] + g0.max() + 2 - j0s[lv]
    return g0s, t0s, g1s, t1s, j0s, k0s, nks, row_base


def _bf16_bits(bits):  # pragma: no cover - jitted
    """bfloat16 bits of the float32 with these bits, rounded to nearest even (as torch casts)."""
    if bits & np.uint32(0x7FFFFFFF) > np.uint32(0x7F800000):
        return np.uint16(0x7FC0)  # NaN
    return np.uint16((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))


def _level_of(row_base, row):  # pragma: no cover - jitted
    lv = 0
    while row_base[lv + 1] <= row:
        lv += 1
    return lv


def _row_to_points(block, out_words, base, w, n_levels, n_feat, wpg, to_bf16):  # pragma: no cover - jitted
    """Transpose one output row's level-major features block [L, W*F] into the point-major rows
    base..base+W-1 of out_words (bf16 bits, rounded to nearest even, when to_bf16)."""
    if to_bf16:
        bits = block.view(np.uint32)
        for c in range(w):
            for level in range(n_levels):
                for f in range(n_feat):
                    out_words[base + c, level * n_feat + f] = _bf16_bits(bits[level, c * n_feat + f])
    else:
        words = block.view(out_words.dtype)
        for c in range(w):
            for level in range(n_levels):
                for q in range(wpg):
                    out_words[base + c, level * wpg + q] = words[level, c * wpg + q]


def _points_to_row(grad_words, block, base, w, lv_a, lv_b, level_lo, n_feat, wpg, from_bf16):  # pragma: no cover - jitted
    """The transpose back: levels [lv_a, lv_b) (relative to level_lo) of the point-major rows
    base..base+W-1 of grad_words into the level-major block [lv_b - lv_a, W*F] (float32)."""
    if from_bf16:  # grad_words holds bf16 bits, one feature each
        bits = block.view(np.uint32)
        for c in range(w):
            for lv in range(lv_a, lv_b):
                col = (level_lo + lv) * n_feat
                for f in range(n_feat):
                    bits[lv - lv_a, c * n_feat + f] = np.uint32(np.uint16(grad_words[base + c, col + f])) << np.uint32(16)
    else:
        words = block.view(grad_words.dtype)
        for c in range(w):
            for lv in range(lv_a, lv_b):
                col = (level_lo + lv) * wpg
                for q in range(wpg):
                    words[lv - lv_a, c * wpg + q] = grad_words[base + c, col + q]


def _vertex_gradients(along, row_base, nks, g1s, t1s, w, n_feat):  # pragma: no cover - jitted
    """Backward pass 2 of the lattice kernels: spread every row of `along` (level lv's rows from
    row_base[lv]) over the two vertex columns of each output column, into per-row vertex
    gradients [sum of rows x nk, F]; returns them and each level's first vertex."""
    n_lv, n_rows = nks.shape[0], along.shape[0]
    one = np.float32(1.0)
    vertex_base = np.zeros(n_lv + 1, dtype=np.int64)
    for lv in range(n_lv):
        vertex_base[lv + 1] = vertex_base[lv] + (row_base[lv + 1] - row_base[lv]) * nks[lv]
    grad_vertices = np.empty((vertex_base[n_lv], n_feat), dtype=np.float32)
    for row in prange(n_rows):
        lv = _level_of(row_base, row)
        nk = nks[lv]
        start = vertex_base[lv] + (row - row_base[lv]) * nk
        dst = grad_vertices[start:start + nk]
        dst[:] = 0.0
        src = along[row]
        for c in range(w):
            k = g1s[lv, c]
            b = t1s[lv, c]
            for f in range(n_feat):
                dst[k, f] += (one - b) * src[c * n_feat + f]
                dst[k + 1, f] += b * src[c * n_feat + f]
    return grad_vertices, vertex_base


def _forward_lattice(u, v, table, scales, resolutions, sizes, offsets, hashed, n_levels, out_words, wpg, to_bf16):  # pragma: no cover
    h, w = u.shape[0], v.shape[0]
    n_feat = table.shape[1]
    wf = w * n_feat
    one = np.float32(1.0)
    g0s, t0s, g1s, t1s, j0s, k0s, nks, row_base = _plan(u, v, scales, 0, n_levels)
    # pass 1, every vertex row of every level (one parallel loop): the row interpolated at
    # every column, into the stacked buffer `along`
    along = np.empty((row_base[n_levels], wf), dtype=np.float32)
    for row in prange(row_base[n_levels]):
        level = _level_of(row_base, row)
        j = row - row_base[level]
        nk = nks[level]
        res, size, is_hashed, base = resolutions[level, 0], sizes[level], hashed[level], offsets[level]
        vertex_row = np.empty((nk, n_feat), dtype=np.float32)
        for k in range(nk):
            idx = base + grid_kernels._index2(j0s[level] + j, k0s[level] + k, res, size, is_hashed)
            for f in range(n_feat):
                vertex_row[k, f] = table[idx, f]
        dst = along[row]
        for c in range(w):
            k = g1s[level, c]
            b = t1s[level, c]
            for f in range(n_feat):
                dst[c * n_feat + f] = (one - b) * vertex_row[k, f] + b * vertex_row[k + 1, f]
    # pass 2, per output row: blend two rows of `along` for every level (contiguous, vectorised)
    # into an [L, W*F] block, then transpose it into the row's [W, L*F] part of `out`
    n_tasks = (h + ROWS_PER_TASK - 1) // ROWS_PER_TASK
    for task in prange(n_tasks):
        block = np.empty((n_levels, wf), dtype=np.float32)
        for r in range(task * ROWS_PER_TASK, min(h, (task + 1) * ROWS_PER_TASK)):
            for level in range(n_levels):
                j = row_base[level] + g0s[level, r]
                a = t0s[level, r]
                lo_row, hi_row, dst = along[j], along[j + 1], block[level]
                for q in range(wf):
                    dst[q] = (one - a) * lo_row[q] + a * hi_row[q]
            _row_to_points(block, out_words, r * w, w, n_levels, n_feat, wpg, to_bf16)


def _backward_lattice(u, v, grad_words, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table, n_groups, n_parts, wpg, from_bf16):  # pragma: no cover
    h, w = u.shape[0], v.shape[0]
    n_feat = grad_table.shape[1]
    wf = w * n_feat
    n_lv = level_hi - level_lo
    one = np.float32(1.0)
    g0s, t0s, g1s, t1s, j0s, k0s, nks, row_base = _plan(u, v, scales, level_lo, level_hi)
    n_rows = row_base[n_lv]
    # Pass 1: the transposed row blend. The levels are split into groups, one per thread; a
    # group's thread sweeps all output rows, transposes its levels' part of each row of the
    # gradient (in cache) and adds it, weighted, to the two vertex rows of each level the row
    # lies between. Every row of `along` belongs to one thread and is summed in row order.
    along = np.empty((n_rows, wf), dtype=np.float32)
    for group in prange(n_groups):
        lv_a = group * n_lv // n_groups
        lv_b = (group + 1) * n_lv // n_groups
        along[row_base[lv_a]:row_base[lv_b]] = 0.0
        block = np.empty((lv_b - lv_a, wf), dtype=np.float32)
        for r in range(h):
            _points_to_row(grad_words, block, r * w, w, lv_a, lv_b, level_lo, n_feat, wpg, from_bf16)
            for lv in range(lv_a, lv_b):
                j = row_base[lv] + g0s[lv, r]
                a = t0s[lv, r]
                lo_row, hi_row, src = along[j], along[j + 1], block[lv - lv_a]
                for q in range(wf):
                    g = src[q]
                    lo_row[q] += (one - a) * g
                    hi_row[q] += a * g
    # Pass 2, every vertex row of every level (one parallel loop): spread the row of `along`
    # over the two vertex columns of each pixel column, into the row's vertex gradients
    grad_vertices, vertex_base = _vertex_gradients(along, row_base, nks, g1s, t1s, w, n_feat)
    # Pass 3, one scatter per vertex into the table, per level. A dense level whose vertex box
    # lies inside the grid maps vertices to distinct entries: parallel over vertex rows. Hashed
    # (or beyond-edge) vertices may share entries: the level's entries are split into n_parts
    # ranges, each thread visits every vertex in order and adds those in its range.
    for lv in range(n_lv):
        level = level_lo + lv
        res, res1, size, is_hashed, base = resolutions[level, 0], resolutions[level, 1], sizes[level], hashed[level], offsets[level]
        nj, nk, j0, k0 = row_base[lv + 1] - row_base[lv], nks[lv], j0s[lv], k0s[lv]
        first = vertex_base[lv]
        if not is_hashed and j0 >= 0 and k0 >= 0 and j0 + nj <= res and k0 + nk <= res1:
            for j in prange(nj):
                for k in range(nk):
                    idx = base + (j0 + j) + (k0 + k) * res
                    for f in range(n_feat):
                        grad_table[idx, f] += grad_vertices[first + j * nk + k, f]
        else:
            for part in prange(n_parts):
                lo_idx = part * size // n_parts
                hi_idx = (part + 1) * size // n_parts
                for j in range(nj):
                    for k in range(nk):
                        idx = grid_kernels._index2(j0 + j, k0 + k, res, size, is_hashed)
                        if lo_idx <= idx < hi_idx:
                            for f in range(n_feat):
                                grad_table[base + idx, f] += grad_vertices[first + j * nk + k, f]


if AVAILABLE:
    _cells = numba.njit(cache=True)(_cells)
    _plan = numba.njit(cache=True)(_plan)
    _level_of = numba.njit(inline="always", cache=True)(_level_of)
    _bf16_bits = numba.njit(inline="always", cache=True)(_bf16_bits)
    _row_to_points = numba.njit(inline="always", cache=True)(_row_to_points)
    _vertex_gradients = numba.njit(parallel=True, cache=True)(_vertex_gradients)
    _points_to_row = numba.njit(inline="always", cache=True)(_points_to_row)
    _forward_lattice = numba.njit(parallel=True, cache=True)(_forward_lattice)
    _backward_lattice = numba.njit(parallel=True, cache=True)(_backward_lattice)


def _words(features: np.ndarray, n_feat: int) -> tuple[np.ndarray, int]:
    """features [N, L*F] viewed as whole words for the transposes, and the words per level:
    float32 features as 8-byte words when F is even (two features per word), else 4-byte;
    bfloat16 features (int16 bits) one per word."""
    if features.dtype == np.int16:
        return features.view(np.uint16), n_feat
    if n_feat % 2 == 0:
        return features.view(np.uint64), n_feat // 2
    return features.view(np.uint32), n_feat


def lattice_forward(u, v, table, scales, resolutions, sizes, offsets, hashed, n_levels, out) -> None:
    """out[r * W + c, l*F + f]: features of lattice point (u[r], v[c]) for levels < n_levels;
    `out` is float32, or int16 to receive bfloat16 bits (rounded to nearest even)."""
    out_words, wpg = _words(out, table.shape[1])
    _forward_lattice(u, v, table, scales, resolutions, sizes, offsets, hashed, n_levels, out_words, wpg, out.dtype == np.int16)


def lattice_backward(u, v, grad_out, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table) -> None:
    """grad_table += the transposed interpolation of grad_out (float32, or int16 holding
    bfloat16 bits), for levels in [level_lo, level_hi)."""
    threads = numba.get_num_threads()
    grad_words, wpg = _words(np.ascontiguousarray(grad_out), grad_table.shape[1])
    n_groups = max(1, min(threads, level_hi - level_lo))
    _backward_lattice(
        u, v, grad_words, scales, resolutions, sizes, offsets, hashed, level_lo, level_hi, grad_table, n_groups, threads, wpg,
        grad_out.dtype == np.int16,
    )
