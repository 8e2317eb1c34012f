"""Quantisation-aware training of a field's table entries, with a rate term.

While stage k trains, the entries it adds are read through a `TableQuantiser`: with additive
uniform noise of one quantisation step (a differentiable stand-in for rounding; rounding with
a straight-through gradient piles entries up on the rounding boundaries, where the coded size
is then a cliff), and at the end as the exact codes the file stores, the MLP fitting them.
The rate term is the entries' code length under a discretised Laplace model per grid level,
whose scale is the level's maximum-likelihood estimate (mean |code|); the coder's own model
(container/entropy.py) fits the final codes at least as well. The loss is
`distortion + lambda * bits / points`; a `RateController` moves lambda so that the stage's
estimated size (or its quality) meets its target.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..fields.base import ProgressiveField
from .loop import Loss, fixed_order_mean, fixed_order_sum
from .samplers import Batch

MIN_PROBABILITY = 2.0**-24  # the coder's smallest frequency


def laplace_bits(codes: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """-log2 P(code) of real-valued `codes` (in steps) under Laplace(0, scale) integrated over
    [code - 1/2, code + 1/2], elementwise; written through |code| so it never cancels."""
    a = codes.abs()
    upper = torch.exp(-(a + 0.5) / scale)
    inner = torch.exp(-(0.5 - a).clamp(min=0.0) / scale)
    outer = torch.exp(-(a - 0.5).clamp(min=0.0) / scale)
    prob = torch.where(a < 0.5, 1.0 - 0.5 * (inner + upper), 0.5 * (outer - upper))
    return -torch.log2(prob.clamp(min=MIN_PROBABILITY))


class TableQuantiser:
    """Reads a stage's entries as codes x step with uniform noise of one step, until frozen to
    the stored codes. Remembers the codes of the last forward for `bits()`. `segments`:
    (start, stop) of each level within the stage's entries."""

    def __init__(self, step: float, segments: list[tuple[int, int]], generator: torch.Generator):
        self.step, self.segments, self.generator = float(step), segments, generator
        self.codes: torch.Tensor | None = None
        self.frozen: torch.Tensor | None = None  # the coded values, once chosen: read as constants
        self.clean: torch.Tensor | None = None  # the last forward's codes before noise

    def freeze(self, values: torch.Tensor) -> None:
        """From now on the entries read as these (exactly what the file stores), with no
        gradient: the rest of the stage fits its MLP to them."""
        self.frozen = values.detach().clone()

    def __call__(self, entries: torch.Tensor) -> torch.Tensor:
        if self.frozen is not None:
            return self.frozen.to(entries.device)
        codes = entries / self.step
        self.clean = codes.detach()
        noise = torch.rand(codes.shape, generator=self.generator, dtype=codes.dtype).to(codes.device) - 0.5
        codes = codes + noise
        self.codes = codes
        return codes * self.step

    def empirical_bits(self) -> float:
        """Bits of the last forward's codes, rounded without noise (as the file will hold them),
        under each level's own histogram (what the coder's table model approaches): the
        controller's measure of the rate."""
        flat = np.rint(self.clean.reshape(-1).cpu().numpy()).astype(np.int64)
        total = 0.0
        for lo, hi in self.segments:
            _, counts = np.unique(flat[lo:hi], return_counts=True)
            counts = counts.astype(np.float64)
            total += float(-(counts * np.log2(counts / max(1, hi - lo))).sum())  # numpy: one thread, a fixed order
        return total

    def bits(self) -> torch.Tensor:
        """Estimated code length of the last forward's entries, in bits (differentiable). The
        scale is a decision value (it shapes the gradient): summed in a fixed order, as is
        the total (fixed_order_sum: torch's own full sums depend on the thread count)."""
        if self.codes is None:
            raise RuntimeError("no quantised forward pass yet")
        flat = self.codes.reshape(-1)
        total = flat.new_zeros(())
        for lo, hi in self.segments:
            part = flat[lo:hi]
            scale = fixed_order_mean(part.detach().abs()).clamp(min=0.05)
            total = total + fixed_order_sum(laplace_bits(part, scale))
        return total


@dataclass
class RateTarget:
    """What a stage aims at: its own bytes (size / bpp targets) or a quality (PSNR)."""

    bits: float | None = None  # the stage's coded size, in bits
    psnr: float | None = None  # dB, on the trained (transformed) signal's batches


class RateController:
    """Lambda of `distortion + lambda * bits / points`, moved multiplicatively each step
    towards the target: up when the estimate is above a size target, down when the batch
    PSNR is below a quality target. `fixed_bits`: the stage's bits the table does not carry
    (its MLP weights, framing), estimated by the caller."""

    def __init__(self, target: RateTarget, lam: float, fixed_bits: float = 0.0, gain: float = 0.05,
                 bounds: tuple[float, float] = (1e-9, 1.0)):
        self.target, self.lam, self.fixed_bits, self.gain, self.bounds = target, float(lam), fixed_bits, gain, bounds

    def update(self, table_bits: float, batch_mse: float) -> None:
        if self.target.bits is not None:
            ratio = (table_bits + self.fixed_bits) / max(self.target.bits, 1.0)
            error = math.log(max(ratio, 1e-3))
        elif self.target.psnr is not None:
            psnr = -10.0 * math.log10(max(batch_mse, 1e-12))
            error = (psnr - self.target.psnr) / 3.0  # above the target: spend fewer bits
        else:
            return
        error = max(-1.0, min(1.0, error))
        self.lam = min(self.bounds[1], max(self.bounds[0], self.lam * math.exp(self.gain * error)))


@dataclass
class Schedule:
    """A stage's phases, as fractions of its steps: plain fitting until `quantise_from`
    (entries far below one step would drown in the noise), then noisy entries with the rate
    term until `freeze_from`, when the encoder chooses the stored codes (its size landed on the
    target) and the rest of the stage fits the MLP to exactly them."""

    steps: int
    quantise_from: float = 0.3
    freeze_from: float = 0.85


def rate_distortion_loss(distortion: Loss, quantiser: TableQuantiser, controller: RateController, points: int,
                         schedule: Schedule, freeze: Callable[[ProgressiveField, int], None]) -> Loss:
    """The stage's training loss: `distortion` alone at first; then plus lambda x estimated
    bits per signal point with the field reading its new entries through `quantiser`, the
    controller seeing every step; from `freeze_from`, distortion alone again once
    `freeze(field, stage)` has fixed the stored codes."""
    calls = 0

    def loss(field: ProgressiveField, batch: Batch, stage: int) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if calls <= schedule.quantise_from * schedule.steps:
            return distortion(field, batch, stage)
        if quantiser.codes is None and quantiser.frozen is None:  # the first quantised step
            field.set_quantiser(quantiser)
        if quantiser.frozen is None and calls > schedule.freeze_from * schedule.steps:
            freeze(field, stage)
        if quantiser.frozen is not None:
            return distortion(field, batch, stage)
        d = distortion(field, batch, stage)
        bits = quantiser.bits()
        controller.update(quantiser.empirical_bits(), float(d.detach()))
        return d + controller.lam * bits / points

    return loss


def initial_lambda(target: RateTarget, points: int) -> float:
    """A starting lambda for a table step of 0.05 (the controller then finds the right one):
    measured on kodim01, lambda 1e-3 gave 2.65 bpp at 29.6 dB and 3e-3 1.56 bpp at 26.4 dB,
    so lambda ~ 3e-3 (1.56 / bpp)^2.1 and ~ 1e-3 x 10^((29.6 - PSNR) / 10)."""
    if target.psnr is not None:
        return 1e-3 * 10 ** ((29.6 - target.psnr) / 10)
    bpp = max((target.bits or 0.0) / max(points, 1), 1e-3)
    return min(1.0, 3e-3 * (1.56 / bpp) ** 2.1)

