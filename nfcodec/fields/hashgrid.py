"""Multiresolution (hash) grid encoding with tiny-cuda-nn's parameter layout.

Backends (same layout, same values; chosen per call by `select_backend`):
* "numba": fused CPU kernels, used on CPU when numba imports: separable ones for points the
  caller declares a lattice (an image's pixel centres: grid_lattice.py; frames of a clip:
  grid_lattice3.py), general ones otherwise (grid_kernels.py);
* "torch": plain PyTorch on any device (int64 index math, `index_select`, autograd scatter);
* tiny-cuda-nn itself is used through `tcnn_backend.py` on CUDA when installed.
The general numba kernels and the torch path agree bit for bit, the lattice kernels to ~1 ulp
(tests/fields/test_grid.py).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from . import grid_kernels, grid_lattice, grid_lattice3, tcnn_backend
from .base import Lattice, uniform_
from .grid_layout import PRIMES, GridConfig, GridLayout, grid_layout

INIT_RANGE = 1e-4  # tiny-cuda-nn initialises tables U(-1e-4, 1e-4)


def torch_corner_indices_weights(coords: torch.Tensor, level: int, layout: GridLayout) -> tuple[torch.Tensor, torch.Tensor]:
    """Torch twin of grid_layout.corner_indices_weights: [N, 2^D] int64 indices (level-local)
    and float32 weights."""
    dim = coords.shape[-1]
    scale = torch.from_numpy(layout.scales[level].astype(np.float64)).to(coords.device)
    pos = (coords.double() * scale + 0.5).float()  # == fma(scale, x, 0.5) in float32
    grid = torch.floor(pos)
    frac = pos - grid
    grid = grid.long()
    size = int(layout.sizes[level])
    hashed = bool(layout.hashed[level])
    idx, weights = [], []
    for corner in range(1 << dim):
        acc = torch.zeros(coords.shape[:-1], dtype=torch.long, device=coords.device)
        weight = torch.ones(coords.shape[:-1], dtype=torch.float32, device=coords.device)
        stride = 1
        for d in range(dim):
            bit = corner >> d & 1
            vertex = grid[..., d] + bit
            weight = weight * (frac[..., d] if bit else 1.0 - frac[..., d])
            if hashed:
                # uint32 product: int64 wraps modulo 2^64, whose low 32 bits are the uint32 result
                acc = acc ^ ((vertex * PRIMES[d]) & 0xFFFFFFFF)
            else:
                acc = acc + vertex * stride
                stride *= int(layout.resolutions[level, d])
        idx.append(torch.remainder(acc, size))
        weights.append(weight)
    return torch.stack(idx, -1), torch.stack(weights, -1)


def select_backend(device: torch.device) -> str:
    """"numba" on CPU and "tcnn" on CUDA when available, else "torch".
    NFCODEC_GRID_BACKEND=torch forces plain torch everywhere."""
    if os.environ.get("NFCODEC_GRID_BACKEND", "").strip().lower() == "torch":
        return "torch"
    if device.type == "cpu":
        return "numba" if grid_kernels.AVAILABLE else "torch"
    return "tcnn" if tcnn_backend.usable(device) else "torch"


class _NumbaGrid(torch.autograd.Function):
    """Grid features through the CPU kernels; the table gradient covers levels [lo, hi) only.
    Features come out in `dtype`: float32, or bfloat16 for an MLP under bf16 autocast (which
    would round them to bf16 anyway): on a lattice the kernels then write the features and read
    their gradient as bf16 directly, half the memory traffic of float32 and no separate casts."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, coords: torch.Tensor, layout: GridLayout, n_levels: int, grad_levels: tuple[int, int], dtype: torch.dtype, lattice: Lattice | None):  # type: ignore[override]
        f = layout.config.n_features
        points = coords.detach().contiguous().numpy()
        tables = table.detach().numpy().reshape(-1, f)
        # points the caller declares a lattice take the separable kernels; others the general ones
        kernels = _lattice_kernels(lattice, layout, n_levels, points.shape[0])
        ctx.save_for_backward(coords)
        ctx.layout, ctx.grad_levels, ctx.n_params, ctx.lattice = layout, grad_levels, table.numel(), (kernels, lattice)
        if kernels is not None:
            # bf16 is written by the kernels; any other dtype is computed in float32, then cast
            bf16 = dtype == torch.bfloat16
            features = torch.empty(points.shape[0], n_levels * f, dtype=torch.bfloat16 if bf16 else torch.float32)
            kernels.lattice_forward(*lattice.axes, tables, *_layout_arrays(layout), n_levels, (features.view(torch.int16) if bf16 else features).numpy())
            return features.to(dtype)
        # scattered points: gathers dominate, a separate cast costs nothing measurable
        out = np.empty((points.shape[0], n_levels * f), dtype=np.float32)
        grid_kernels.grid_forward(points, tables, *_layout_arrays(layout), n_levels, out)
        return torch.from_numpy(out).to(dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (coords,) = ctx.saved_tensors
        layout = ctx.layout
        f = layout.config.n_features
        grad = np.zeros((ctx.n_params // f, f), dtype=np.float32)
        lo, hi = ctx.grad_levels
        kernels, lattice = ctx.lattice
        if hi > lo and kernels is not None:
            grad_out = grad_out.contiguous()
            bits = grad_out.view(torch.int16) if grad_out.dtype == torch.bfloat16 else grad_out.float()
            kernels.lattice_backward(*lattice.axes, bits.numpy(), *_layout_arrays(layout), lo, hi, grad)
        elif hi > lo:
            grid_kernels.grid_backward(
                coords.contiguous().numpy(), grad_out.float().contiguous().numpy(), *_layout_arrays(layout), lo, hi, grad
            )
        return torch.from_numpy(grad.reshape(-1)), None, None, None, None, None, None


def _lattice_kernels(lattice: Lattice | None, layout: GridLayout, n_levels: int, n_points: int) -> Any:
    """The separable kernels' module for a declared lattice (2-D, or 3-D with time first), when
    it is worth it (a level far finer than the lattice makes the general kernels cheaper), else None."""
    if lattice is None or len(lattice.axes) != layout.config.in_dim or lattice.num_points != n_points or n_points < 2:
        return None
    if len(lattice.axes) == 2 and grid_lattice.lattice_worthwhile(*lattice.axes, layout.scales, n_levels):
        return grid_lattice
    if len(lattice.axes) == 3 and grid_lattice3.worthwhile(*lattice.axes, layout.scales, n_levels):
        return grid_lattice3
    return None


def _layout_arrays(layout: GridLayout) -> tuple[np.ndarray, ...]:
    return layout.scales, layout.resolutions, layout.sizes, layout.offsets, layout.hashed.view(np.uint8)


class GridEncoding(nn.Module):
    """Features [N, n_levels * F] (level-major, as tiny-cuda-nn orders them) of points in [0, 1]^D."""

    def __init__(self, config: GridConfig):
        super().__init__()
        self.config = config
        self.layout = grid_layout(config)
        self.table = nn.Parameter(torch.zeros(self.layout.n_params))

    def level_table(self, level: int) -> torch.Tensor:
        """View [size_l, F] of level `level`'s entries in the flat parameter vector."""
        f = self.config.n_features
        lo, hi = int(self.layout.offsets[level]), int(self.layout.offsets[level + 1])
        return self.table[lo * f : hi * f].view(hi - lo, f)

    def init_levels(self, levels: range, generator: torch.Generator) -> None:
        for level in levels:
            uniform_(self.level_table(level), INIT_RANGE, generator)

    def forward(
        self,
        coords: torch.Tensor,
        n_levels: int | None = None,
        grad_levels: tuple[int, int] | None = None,
        backend: str | None = None,
        dtype: torch.dtype = torch.float32,
        lattice: Lattice | None = None,
        table: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """coords [N, D] in [0, 1] -> features [N, n_levels * F]. `grad_levels` limits the table
        gradient to levels [lo, hi) (the others are frozen); default: every level used. `dtype`
        bfloat16 asks for features rounded to bf16 (for an MLP under bf16 autocast). `lattice`:
        the coords are exactly its points (a fast path on the CPU). `table`: values to read in
        place of the parameter (quantisation-aware training), same layout."""
        n_levels = n_levels or self.config.n_levels
        grad_levels = grad_levels or (0, n_levels)
        backend = backend or select_backend(coords.device)
        table = self.table if table is None else table
        if backend == "numba":
            return _NumbaGrid.apply(table, coords.float(), self.layout, n_levels, grad_levels, dtype, lattice)
        if backend == "tcnn" and self.config.isotropic:  # tiny-cuda-nn has one resolution for all axes
            out = tcnn_backend.encode(table, coords, self.layout, n_levels)
            if out is not None:
                return out.to(dtype)
        return self.torch_forward(coords, n_levels, table).to(dtype)

    def torch_forward(self, coords: torch.Tensor, n_levels: int, values: torch.Tensor | None = None) -> torch.Tensor:
        values = self.table if values is None else values
        f = self.config.n_features
        feats = []
        for level in range(n_levels):
            idx, w = torch_corner_indices_weights(coords, level, self.layout)
            lo, hi = int(self.layout.offsets[level]), int(self.layout.offsets[level + 1])
            table = values[lo * f : hi * f].view(hi - lo, f)
            corners = table.index_select(0, idx.reshape(-1)).view(*idx.shape, self.config.n_features)
            # explicit corner order, as in the kernels: sum_c w_c * t_c, left to right
            acc = corners[..., 0, :] * w[..., 0:1]
            for c in range(1, idx.shape[-1]):
                acc = acc + corners[..., c, :] * w[..., c : c + 1]
            feats.append(acc)
        return torch.cat(feats, dim=-1)
