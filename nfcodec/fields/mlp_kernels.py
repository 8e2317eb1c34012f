"""A CPU kernel for the MLP's weight gradient, dW = G^T X, summed over the batch in a fixed order.

The weight gradient of a linear layer is a sum over every point of the batch (the inner
dimension of the product is the batch), the one product of a training step whose summation
order a BLAS library chooses by thread count and operand layout: oneDNN's bf16 GEMM gives other
bits at 1 and 2 threads (it splits that sum across threads, and a transposed operand takes
another kernel at one thread), which made a 1-thread and a 2-thread encode differ after a few
steps. Here the points are cut into fixed blocks of BLOCK rows whatever the thread count; each
block's rows are accumulated in order, eight at a time (g0 x0 + g1 x1 + ... + g7 x7, left to
right, then added), into the block's own float32 partial; the partials are then added in block
order. Threads only decide which core computes a block, never an order, so the gradient (and
every encoded file) is the same on 1 or N threads. Inputs are float32, or bfloat16 given as
their int16 bits (what a bf16 autocast step holds); the sum is float32 either way (finer than
the bf16 product autocast gives). Only the columns asked for are read: a stage's frozen rows
need no gradient (ProgressiveMLP).
"""
from __future__ import annotations

import numpy as np

from . import grid_kernels

AVAILABLE = grid_kernels.AVAILABLE
if AVAILABLE:
    import numba
    from numba import prange

BLOCK = 1024  # points per partial sum: fixed, so the order of every addition is too
ROWS = 8  # rows added into a partial at once, left to right (fewer passes over the partial)


def _load_row(src, i, bits, values, r, from_bf16):  # pragma: no cover - jitted
    """Row i of src (float32, or int16 holding bf16 bits) into row r of values (bits: its uint32 view)."""
    if from_bf16:
        for a in range(src.shape[1]):
            bits[r, a] = np.uint32(np.uint16(src[i, a])) << np.uint32(16)
    else:
        for a in range(src.shape[1]):
            values[r, a] = src[i, a]


def _partials(g, x, from_bf16, block, partial):  # pragma: no cover - jitted
    """partial[b] = the sum over block b's rows of g[i]^T x[i], rows in order, ROWS at a time.
    (The shapes of g and x give the loop bounds: with bounds passed separately, LLVM
    vectorises the loops far worse.)"""
    n, m = g.shape
    k = x.shape[1]
    for b in prange(partial.shape[0]):
        acc = partial[b]
        acc[:] = 0.0
        g_bits = np.empty((ROWS, m), dtype=np.uint32)
        gr = g_bits.view(np.float32)
        x_bits = np.empty((ROWS, k), dtype=np.uint32)
        xr = x_bits.view(np.float32)
        lo = b * block
        hi = min(n, lo + block)
        i = lo
        while i + ROWS <= hi:
            for r in range(ROWS):
                _load_row(g, i + r, g_bits, gr, r, from_bf16)
                _load_row(x, i + r, x_bits, xr, r, from_bf16)
            for a in range(m):
                w0, w1, w2, w3, w4, w5, w6, w7 = gr[0, a], gr[1, a], gr[2, a], gr[3, a], gr[4, a], gr[5, a], gr[6, a], gr[7, a]
                row = acc[a]
                for c in range(k):
                    row[c] += (((((((w0 * xr[0, c] + w1 * xr[1, c]) + w2 * xr[2, c]) + w3 * xr[3, c]) + w4 * xr[4, c])
                                 + w5 * xr[5, c]) + w6 * xr[6, c]) + w7 * xr[7, c])
            i += ROWS
        while i < hi:
            _load_row(g, i, g_bits, gr, 0, from_bf16)
            _load_row(x, i, x_bits, xr, 0, from_bf16)
            for a in range(m):
                w0 = gr[0, a]
                row = acc[a]
                for c in range(k):
                    row[c] += w0 * xr[0, c]
            i += 1


def _sum_partials(partial, out):  # pragma: no cover - jitted
    """out = partial[0] + partial[1] + ... in block order (parallel over output rows)."""
    nb, m, k = partial.shape
    for a in prange(m):
        row = out[a]
        row[:] = partial[0, a]
        for b in range(1, nb):
            src = partial[b, a]
            for c in range(k):
                row[c] += src[c]


if AVAILABLE:
    _load_row = numba.njit(inline="always", cache=True)(_load_row)
    _partials = numba.njit(parallel=True, cache=True)(_partials)
    _sum_partials = numba.njit(parallel=True, cache=True)(_sum_partials)


def weight_grad(g: np.ndarray, x: np.ndarray, g_cols: tuple[int, int] | None = None,
                x_cols: tuple[int, int] | None = None) -> np.ndarray:
    """G[:, g_cols]^T X[:, x_cols] as float32 [M, K] (default: every column) for G [N, ...] and
    X [N, ...], both float32 or both int16 holding bfloat16 bits, in the fixed order described
    above. The inner loop runs along the longer of M and K (it vectorises there): the shapes
    decide it, never the thread count."""
    if g.shape[0] != x.shape[0]:
        raise ValueError(f"{g.shape[0]} gradient rows for {x.shape[0]} input rows")
    if g.dtype != x.dtype or g.dtype not in (np.int16, np.float32):
        raise TypeError(f"weight_grad takes two float32 or two bf16 (int16) arrays, got {g.dtype} and {x.dtype}")
    # column ranges copied out whole: a strided view would compile a second variant of the
    # kernel (8 s on first use), for a copy that costs 1/M of the product
    g = np.ascontiguousarray(g[:, slice(*g_cols)]) if g_cols else g
    x = np.ascontiguousarray(x[:, slice(*x_cols)]) if x_cols else x
    if x.shape[1] < g.shape[1]:
        return np.ascontiguousarray(_weight_grad(x, g).T)
    return _weight_grad(g, x)


def _weight_grad(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    n, m, k = g.shape[0], g.shape[1], x.shape[1]
    out = np.zeros((m, k), dtype=np.float32)
    if n == 0 or m == 0 or k == 0:
        return out
    partial = np.empty(((n + BLOCK - 1) // BLOCK, m, k), dtype=np.float32)
    _partials(g, x, g.dtype == np.int16, BLOCK, partial)
    _sum_partials(partial, out)
    return out
