"""The contract every progressive field follows (SIREN, hash grid, ...).

A field is built for a fixed list of stage widths. Stage k adds parameters; training stage k
changes only those (`grow`, `mask_gradients`), so width k decodes from stages 1..k alone.
The container stores, per stage, exactly the tensors `stage_tensors(k)` returns.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np
import torch


@dataclass(frozen=True)
class Lattice:
    """Points that are every combination of per-axis coordinates, in C order (the first axis
    slowest): an image's pixel centres, a band of its rows, a few whole frames of a clip. The
    caller that builds such points says so (a sampler, a renderer), and grid kernels then take
    their separable fast path; nothing guesses it from the coordinates."""

    axes: tuple[np.ndarray, ...]  # float32 [n_d] per axis, each in [0, 1]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a) for a in self.axes)

    @property
    def num_points(self) -> int:
        return int(np.prod(self.shape))

    def coords(self) -> np.ndarray:
        """The points, [num_points, len(axes)] float32."""
        grid = np.meshgrid(*self.axes, indexing="ij")
        return np.stack(grid, axis=-1).reshape(-1, len(self.axes)).astype(np.float32)

    def split(self, max_points: int) -> list["Lattice"]:
        """Consecutive sub-lattices of at most `max_points` points (or one point per axis-0
        slice of a 1-D lattice), in C order: whole slices of the first axis while one fits, else
        each slice split the same way along the next axis. Bounded evaluation that keeps the
        fast path."""
        first, rest = self.axes[0], self.axes[1:]
        per_slice = int(np.prod([len(a) for a in rest])) if rest else 1
        if per_slice <= max_points or not rest:
            step = max(1, max_points // per_slice)
            return [Lattice((first[i : i + step],) + rest) for i in range(0, len(first), step)]
        inner = Lattice(rest).split(max_points)
        return [Lattice((first[i : i + 1],) + part.axes) for i in range(len(first)) for part in inner]

    @staticmethod
    def sample_centres(shape: tuple[int, ...], first_axis: slice | None = None) -> "Lattice":
        """The centres (i + 0.5) / n of every sample of a signal of `shape`; `first_axis` keeps a
        part of the first axis (a block of rows, a range of frames)."""
        axes = [((np.arange(n, dtype=np.float64) + 0.5) / n).astype(np.float32) for n in shape]
        if first_axis is not None:
            axes[0] = axes[0][first_axis]
        return Lattice(tuple(axes))


@runtime_checkable
class ProgressiveField(Protocol):
    arch: str
    in_dim: int
    out_dim: int
    widths: tuple[int, ...]

    def forward(self, coords: torch.Tensor, stage: int, lattice: Lattice | None = None) -> torch.Tensor:
        """coords: float32 [*batch, in_dim] in [0, 1] -> values [*batch, out_dim] at stage count
        `stage`; `lattice`, when given, says the coords are exactly its points (a fast path)."""

    def grow(self, stage: int, generator: torch.Generator) -> None:
        """Initialise the parameters stage `stage` adds (1-based), before it trains."""

    def mask_gradients(self, stage: int) -> None:
        """Zero the gradients of every entry stage `stage` may not change (call after backward)."""

    def trainable_parameters(self, stage: int) -> list[torch.nn.Parameter]:
        """Tensors that hold at least one entry trainable at `stage`."""

    def stage_tensors(self, stage: int) -> dict[str, np.ndarray]:
        """The parameters stage `stage` added, as named float32 arrays (what its chunk stores)."""

    def load_stage_tensors(self, stage: int, tensors: Mapping[str, np.ndarray]) -> None:
        """Set the parameters of stage `stage` (decoder, or snapping to quantised values)."""

    def config(self) -> dict[str, Any]:
        """Everything besides the widths that a decoder needs to rebuild the field."""


def uniform_(tensor: torch.Tensor, bound: float, generator: torch.Generator) -> None:
    """In-place U(-bound, bound) drawn from an explicit CPU generator (no global RNG); drawn on
    the CPU and copied, so a seed gives the same initial values on every device."""
    with torch.no_grad():
        tensor.copy_(torch.empty(tensor.shape, dtype=tensor.dtype).uniform_(-bound, bound, generator=generator))


def check_stage_tensors(expected: Mapping[str, tuple[int, ...]], tensors: Mapping[str, np.ndarray], stage: int) -> None:
    """A decoder-side guard: a file's stage must hold exactly the tensors the field expects."""
    from ..errors import InvalidPayload

    if set(tensors) != set(expected):
        raise InvalidPayload(f"stage {stage}: tensors {sorted(tensors)} do not match the field's {sorted(expected)}")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != tuple(shape):
            raise InvalidPayload(f"stage {stage}: tensor {name!r} has shape {tuple(tensors[name].shape)}, expected {tuple(shape)}")


def views_to_arrays(views: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Copies of a stage's parameter views as float32 arrays (what its chunk stores)."""
    return {k: v.detach().cpu().numpy().astype(np.float32).copy() for k, v in views.items()}


def load_into_views(views: Mapping[str, torch.Tensor], tensors: Mapping[str, np.ndarray]) -> None:
    """Copy arrays into a stage's parameter views (shapes checked by the caller)."""
    with torch.no_grad():
        for name, view in views.items():
            view.copy_(torch.from_numpy(np.ascontiguousarray(tensors[name])).to(view.device))
