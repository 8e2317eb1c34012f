"""Where a training step's points come from. The trainer asks a sampler for each step's batch
and never holds the signal itself, so a modality can stream its samples (chunks of frames,
surface-biased point sets) instead of keeping them all on the device."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Sampler(Protocol):
    num_points: int
    full_batch: bool  # every step sees every point (deterministic, no generator draws)
    device: torch.device  # where batches are delivered
    mean: torch.Tensor  # [C] mean target value: the field's initial output offset

    def batch(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(coords [B, dims], target values [B, C]) on the training device."""


class InMemorySampler:
    """Every point on the device: the full batch when it holds at most `batch_size` points,
    else `batch_size` points drawn uniformly with replacement each step. Indices are drawn on
    the CPU generator (the same stream on every device), then moved."""

    def __init__(self, coords: torch.Tensor, values: torch.Tensor, batch_size: int):
        if coords.shape[0] != values.shape[0]:
            raise ValueError(f"{coords.shape[0]} coordinates for {values.shape[0]} values")
        self.coords, self.values = coords, values
        self.num_points = int(coords.shape[0])
        self.batch_size = batch_size
        self.full_batch = self.num_points <= batch_size
        self.device = coords.device
        self.mean = values.mean(dim=0)

    def batch(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.full_batch:
            return self.coords, self.values
        idx = torch.randint(self.num_points, (self.batch_size,), generator=generator).to(self.coords.device)
        return self.coords[idx], self.values[idx]
