"""Where a training step's points come from. The trainer asks a sampler for each step's batch
and never holds the signal itself, so a modality can stream its samples (chunks of frames,
surface-biased point sets) instead of keeping them all on the device."""
from __future__ import annotations

from typing import Callable, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch

from ..fields.base import Lattice


class Batch(NamedTuple):
    coords: torch.Tensor  # [B, dims] on the training device
    values: torch.Tensor  # [B, C] targets
    lattice: Lattice | None = None  # the coords are exactly this lattice's points (a fast path)


@runtime_checkable
class Sampler(Protocol):
    num_points: int
    full_batch: bool  # every step sees every point (deterministic, no generator draws)
    device: torch.device  # where batches are delivered
    mean: torch.Tensor  # [C] mean target value: the field's initial output offset

    def batch(self, generator: torch.Generator) -> Batch:
        """This step's points and targets on the training device."""


class InMemorySampler:
    """Every point on the device: the full batch when it holds at most `batch_size` points,
    else `batch_size` points drawn uniformly with replacement each step. Indices are drawn on
    the CPU generator (the same stream on every device), then moved."""

    def __init__(self, coords: torch.Tensor, values: torch.Tensor, batch_size: int, lattice: Lattice | None = None):
        """`lattice`: the coords are exactly its points (the full batch then says so)."""
        if coords.shape[0] != values.shape[0]:
            raise ValueError(f"{coords.shape[0]} coordinates for {values.shape[0]} values")
        if lattice is not None and lattice.num_points != coords.shape[0]:
            raise ValueError(f"a lattice of {lattice.num_points} points for {coords.shape[0]} coordinates")
        self.coords, self.values, self.lattice = coords, values, lattice
        self.num_points = int(coords.shape[0])
        self.batch_size = batch_size
        self.full_batch = self.num_points <= batch_size
        self.device = coords.device
        self.mean = values.mean(dim=0)

    def batch(self, generator: torch.Generator) -> Batch:
        if self.full_batch:
            return Batch(self.coords, self.values, self.lattice)
        idx = torch.randint(self.num_points, (self.batch_size,), generator=generator).to(self.coords.device)
        return Batch(self.coords[idx], self.values[idx])


class LatticeSampler:
    """`batch_size` points of a lattice drawn uniformly with replacement each step, their
    coordinates and targets computed for that batch alone: nothing per point is kept, so
    memory follows the batch, not the signal (an image of 50 megapixels trains in the memory
    of one batch plus its integer pixels).

    `values_at(idx)` gives the [len(idx), C] float32 targets at flat (C order) lattice indices.
    The indices are drawn exactly as InMemorySampler draws them (the same generator calls) and
    the coordinates are the lattice's own axis values, so each batch equals an InMemorySampler's
    over `lattice.coords()` and every target. `mean` [C] is the targets' mean (the caller
    computes it in bounded memory)."""

    full_batch = False

    def __init__(self, lattice: Lattice, values_at: Callable[[np.ndarray], np.ndarray], mean: torch.Tensor | np.ndarray,
                 batch_size: int, device: torch.device):
        self.lattice, self.values_at = lattice, values_at
        self.num_points = lattice.num_points
        self.batch_size = batch_size
        self.device = device
        self.mean = torch.as_tensor(mean, dtype=torch.float32).to(device)

    def batch(self, generator: torch.Generator) -> Batch:
        idx = torch.randint(self.num_points, (self.batch_size,), generator=generator).numpy()
        per_axis = np.unravel_index(idx, self.lattice.shape)
        coords = np.stack([axis[i] for axis, i in zip(self.lattice.axes, per_axis)], axis=1)
        values = np.ascontiguousarray(self.values_at(idx), dtype=np.float32)
        return Batch(torch.from_numpy(coords).to(self.device), torch.from_numpy(values).to(self.device))
