"""Where a training step's points come from. The trainer asks a sampler for each step's batch
and never holds the signal itself, so a modality can stream its samples (chunks of frames,
surface-biased point sets) instead of keeping them all on the device."""
from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

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
