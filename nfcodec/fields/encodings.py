"""Progressive input encodings: what a field's MLP reads at each stage.

An encoding grows by stages like the MLP does: stage k may add features (the grid's finer
levels), and trains only what it added. Each implements the same small contract, so a field is
a composition `encoding -> MLP` (fields/field.py), not a class per combination.
"""
from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import torch
from torch import nn

from .base import Lattice
from .grid_layout import GridConfig
from .hashgrid import GridEncoding


@runtime_checkable
class ProgressiveEncoding(Protocol):
    in_dim: int

    def out_dims(self) -> tuple[int, ...]:
        """Features delivered at each stage (non-decreasing)."""

    def forward(self, coords: torch.Tensor, stage: int, lattice: Lattice | None, dtype: torch.dtype) -> torch.Tensor: ...

    def grow(self, stage: int, generator: torch.Generator) -> None: ...

    def mask_gradients(self, stage: int) -> None: ...

    def trainable_parameters(self, stage: int) -> list[nn.Parameter]: ...

    def stage_views(self, stage: int) -> dict[str, torch.Tensor]: ...

    def coded_segments(self, stage: int) -> list[tuple[int, int]]:
        """Where each level's entries lie in stage `stage`'s flat entries (quantisation-aware
        training and its rate term); [] when the encoding has no entries."""

    def set_quantiser(self, quantiser: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        """Read the entries the training stage adds through `quantiser` (None: as they are)."""


class CentredCoordinates(nn.Module):
    """The coordinates themselves, mapped from [0, 1] to [-1, 1] (a SIREN's input); no parameters."""

    def __init__(self, in_dim: int, stages: int):
        super().__init__()
        self.in_dim, self.stages = in_dim, stages

    def out_dims(self) -> tuple[int, ...]:
        return (self.in_dim,) * self.stages

    def forward(self, coords: torch.Tensor, stage: int, lattice: Lattice | None, dtype: torch.dtype) -> torch.Tensor:
        return coords * 2.0 - 1.0

    def grow(self, stage: int, generator: torch.Generator) -> None:
        pass

    def mask_gradients(self, stage: int) -> None:
        pass

    def trainable_parameters(self, stage: int) -> list[nn.Parameter]:
        return []

    def stage_views(self, stage: int) -> dict[str, torch.Tensor]:
        return {}

    def coded_segments(self, stage: int) -> list[tuple[int, int]]:
        return []

    def set_quantiser(self, quantiser: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        pass


class GridLevels(nn.Module):
    """A multiresolution grid whose stage k adds levels [L_{k-1}, L_k) (coarse first). Stage k
    trains only its own levels (earlier ones frozen), which also skips most of the backward
    scatter; its chunk stores those levels' slice of the table as "table"."""

    def __init__(self, grid: GridConfig, levels: tuple[int, ...]):
        super().__init__()
        if not levels or levels[0] <= 0 or any(b <= a for a, b in zip(levels, levels[1:])):
            raise ValueError(f"stage level counts must be positive and strictly increasing, got {levels}")
        if levels[-1] != grid.n_levels:
            raise ValueError("the last stage must use every grid level")
        self.grid = GridEncoding(grid)
        self.levels = tuple(int(n) for n in levels)
        self.in_dim = grid.in_dim
        self.quantiser: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def layout(self):  # noqa: ANN201 - GridLayout
        return self.grid.layout

    def out_dims(self) -> tuple[int, ...]:
        return tuple(n * self.grid.config.n_features for n in self.levels)

    def span(self, stage: int) -> tuple[int, int]:
        return (self.levels[stage - 2] if stage > 1 else 0), self.levels[stage - 1]

    def table_span(self, stage: int) -> tuple[int, int]:
        lo, hi = self.span(stage)
        f, offsets = self.grid.config.n_features, self.grid.layout.offsets
        return int(offsets[lo]) * f, int(offsets[hi]) * f

    def forward(self, coords: torch.Tensor, stage: int, lattice: Lattice | None, dtype: torch.dtype) -> torch.Tensor:
        lo, hi = self.span(stage)
        table = None
        if self.quantiser is not None:
            start, stop = self.table_span(stage)
            t = self.grid.table
            table = torch.cat([t[:start], self.quantiser(t[start:stop]), t[stop:]])
        return self.grid(coords, hi, grad_levels=(lo, hi), dtype=dtype, lattice=lattice, table=table)

    def coded_segments(self, stage: int) -> list[tuple[int, int]]:
        lo, hi = self.span(stage)
        f, offsets = self.grid.config.n_features, self.grid.layout.offsets
        base = int(offsets[lo]) * f
        return [(int(offsets[level]) * f - base, int(offsets[level + 1]) * f - base) for level in range(lo, hi)]

    def set_quantiser(self, quantiser: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        self.quantiser = quantiser

    def grow(self, stage: int, generator: torch.Generator) -> None:
        self.grid.init_levels(range(*self.span(stage)), generator)

    def mask_gradients(self, stage: int) -> None:
        grad = self.grid.table.grad
        if grad is not None:
            lo, hi = self.table_span(stage)
            with torch.no_grad():
                grad[:lo].zero_()
                grad[hi:].zero_()

    def trainable_parameters(self, stage: int) -> list[nn.Parameter]:
        return [self.grid.table]

    def stage_views(self, stage: int) -> dict[str, torch.Tensor]:
        lo, hi = self.table_span(stage)
        return {"table": self.grid.table[lo:hi].view(-1, self.grid.config.n_features)}
