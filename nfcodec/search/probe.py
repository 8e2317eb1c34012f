"""Probe fits: one (transform, learning rate) arm trained on a crop of the signal, resumable.

A probe trains the encoder's own architecture as a single stage (every level / the full
width) on a centre crop, with a constant learning rate, and scores it on the *original* crop:
the field's output is inverted and clipped to [0, 1] as a decoder would, then compared with the
untransformed values. Arms keep their field and optimiser so successive halving can resume them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..fields.base import Lattice
from ..metrics import psnr
from ..train import Adam, InMemorySampler, make_optimiser, optimise, predict_lattice
from ..transforms import Transform, fit_transform


@dataclass
class ProbeSignal:
    """The crop every arm is probed on, in [0, 1], with its pixel-centre coordinates."""

    values: np.ndarray  # [h, w, C] float32, original domain
    coords: torch.Tensor  # [h * w, 2]
    lattice: Lattice  # the coords' lattice

    @staticmethod
    def of(values: np.ndarray, device: torch.device) -> "ProbeSignal":
        lattice = Lattice.sample_centres(values.shape[:-1])
        return ProbeSignal(values, torch.from_numpy(lattice.coords()).to(device), lattice)

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape[0], self.values.shape[1]


def centre_crop(values: np.ndarray, side: int) -> np.ndarray:
    """The centred side x side crop (or the whole signal along an axis that is shorter)."""
    h, w = values.shape[:2]
    ch, cw = min(side, h), min(side, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(values[top : top + ch, left : left + cw])


@dataclass
class Arm:
    preset: str
    lr: float
    transform: Transform
    field: Any
    optimiser: Adam
    target: torch.Tensor  # trained-domain values [h * w, C]
    steps: int = 0
    seconds: float = 0.0
    curve: list[tuple[int, float]] = field(default_factory=list)  # (steps, original-domain PSNR)

    @property
    def psnr(self) -> float:
        return self.curve[-1][1] if self.curve else float("-inf")

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps if self.steps else float("nan")


def make_arm(preset: str, lr: float, signal: ProbeSignal, build_field: Any, seed: int, device: torch.device) -> Arm:
    """A fresh arm: the transform fitted to the crop and a field grown to its full width."""
    transform = fit_transform(preset, signal.values, seed)
    trained = np.ascontiguousarray(transform.forward(signal.values), dtype=np.float32)
    target = torch.from_numpy(trained.reshape(-1, trained.shape[-1])).to(device)
    model = build_field(signal.shape, trained.shape[-1]).to(device)
    generator = torch.Generator().manual_seed(seed)  # every arm starts from the same weights
    model.grow(1, generator)
    if hasattr(model, "set_output_bias"):
        model.set_output_bias(target.mean(dim=0))
    optimiser = make_optimiser(model, model.trainable_parameters(1), lr)
    return Arm(preset, lr, transform, model, optimiser, target)


def train_arm(arm: Arm, signal: ProbeSignal, steps: int, precision: str = "auto") -> None:
    """Continue `arm` for `steps` full-batch steps, then score it on the original crop."""
    start = time.perf_counter()
    sampler = InMemorySampler(signal.coords, arm.target, batch_size=signal.coords.shape[0], lattice=signal.lattice)  # full batch
    # a constant rate, and no generator draws (full batch): the arm resumes exactly where it stopped
    optimise(arm.field, arm.optimiser, sampler, 1, torch.Generator(), steps=steps, lr=arm.lr, precision=precision)
    arm.seconds += time.perf_counter() - start
    arm.steps += steps
    arm.curve.append((arm.steps, score_arm(arm, signal)))


def score_arm(arm: Arm, signal: ProbeSignal) -> float:
    """PSNR (peak 1) on the original crop of the arm's inverted, clipped reconstruction."""
    out = predict_lattice(arm.field, signal.lattice, 1, signal.coords.device).cpu().numpy().reshape(signal.values.shape)
    decoded = np.clip(arm.transform.inverse(out), 0.0, 1.0)
    return psnr(signal.values, decoded, peak=1.0)
