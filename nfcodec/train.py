"""Fitting a progressive field to a signal, one stage at a time.

Each stage gets a fresh Adam over the parameters it may change; after every backward pass the
field zeroes the gradients of frozen entries, so Adam never moves them (its moments stay zero).
A callback then finalises the stage (the codec quantises it and snaps the field to the stored
values) before the next stage grows, so later stages are trained against what decoders see.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch

from .fields.base import ProgressiveField
from .metrics import psnr_from_mse
from .progress import SILENT, Progress


def _cpu_has_native_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(field: ProgressiveField, device: torch.device, precision: str) -> torch.dtype | None:
    """bf16 autocast for training steps where the hardware runs it natively and the field
    tolerates it (ReLU MLPs do; SIREN's sin(30 x) does not). Evaluation always runs in float32,
    so reported quality is what a decoder computes."""
    if precision == "fp32" or not getattr(field, "mixed_precision_ok", False):
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if _cpu_has_native_bf16() else None


@dataclass
class TrainConfig:
    steps: int = 300  # optimisation steps per stage
    lr: float | None = None  # peak Adam learning rate (None: the field's default); cosine-decayed
    final_lr_fraction: float = 0.1
    batch_size: int = 1 << 15  # points per step; full batch when the signal has fewer points
    seed: int = 0
    target_psnr: float | None = None  # stop a stage early once the batch PSNR reaches it
    precision: str = "auto"  # "auto" (bf16 training steps where native and safe), "fp32", "bf16"


@dataclass
class StageFit:
    stage: int
    steps: int
    seconds: float
    batch_psnr: float


def predict(field: ProgressiveField, coords: torch.Tensor, stage: int, chunk: int = 1 << 16) -> torch.Tensor:
    """Field output at every coordinate, in chunks so memory stays bounded."""
    with torch.no_grad():
        return torch.cat([field.forward(coords[i : i + chunk], stage) for i in range(0, coords.shape[0], chunk)])


def fit_stage(
    field: ProgressiveField,
    stage: int,
    coords: torch.Tensor,
    values: torch.Tensor,
    config: TrainConfig,
    generator: torch.Generator,
    progress: Progress = SILENT,
) -> StageFit:
    params = field.trainable_parameters(stage)
    lr = config.lr or getattr(field, "default_lr", 1e-3)
    optimiser = torch.optim.Adam(
        params, lr=lr, betas=getattr(field, "adam_betas", (0.9, 0.999)), eps=getattr(field, "adam_eps", 1e-8)
    )
    n = coords.shape[0]
    full_batch = n <= config.batch_size
    amp = autocast_dtype(field, coords.device, config.precision)
    start = time.perf_counter()
    progress.start(f"stage {stage}/{len(field.widths)} (width {field.widths[stage - 1]})", config.steps)
    batch_psnr = float("nan")
    step = 0
    for step in range(1, config.steps + 1):
        # Cosine decay from lr to lr * final_lr_fraction over the stage.
        t = (step - 1) / max(config.steps - 1, 1)
        scale = config.final_lr_fraction + (1 - config.final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * t))
        for group in optimiser.param_groups:
            group["lr"] = lr * scale
        if full_batch:
            x, y = coords, values
        else:
            # indices drawn on the CPU generator (the same stream on every device), then moved
            idx = torch.randint(n, (config.batch_size,), generator=generator).to(coords.device)
            x, y = coords[idx], values[idx]
        optimiser.zero_grad(set_to_none=False)
        with torch.autocast(coords.device.type, dtype=amp or torch.float32, enabled=amp is not None):
            out = field.forward(x, stage)
        loss = torch.mean((out.float() - y) ** 2)
        loss.backward()
        field.mask_gradients(stage)
        optimiser.step()
        batch_psnr = psnr_from_mse(loss.item())
        progress.update(step, f"psnr {batch_psnr:6.2f} dB")
        if config.target_psnr is not None and batch_psnr >= config.target_psnr:
            break
    progress.finish(f"psnr {batch_psnr:6.2f} dB")
    return StageFit(stage, step, time.perf_counter() - start, batch_psnr)


def fit_progressive(
    field: ProgressiveField,
    coords: torch.Tensor,
    values: torch.Tensor,
    config: TrainConfig,
    on_stage_end: Callable[[int, StageFit], None] | None = None,
    progress: Progress = SILENT,
    initial_bias: torch.Tensor | None = None,
) -> list[StageFit]:
    generator = torch.Generator().manual_seed(config.seed)
    fits = []
    for stage in range(1, len(field.widths) + 1):
        field.grow(stage, generator)
        if stage == 1 and initial_bias is not None and hasattr(field, "set_output_bias"):
            field.set_output_bias(initial_bias)
        fit = fit_stage(field, stage, coords, values, config, generator, progress)
        if on_stage_end is not None:
            on_stage_end(stage, fit)
        fits.append(fit)
    return fits
