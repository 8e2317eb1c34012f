"""The one training loop (`optimise`), and fitting a progressive field one stage at a time.

Every fit in nfcodec runs `optimise`: the encode's stages, the search's probes and the
benchmarks. Each stage gets a fresh Adam over the parameters it may change; after every
backward pass the field zeroes the gradients of frozen entries, so Adam never moves them (its
moments stay zero). A callback then finalises the stage (the codec quantises it and snaps the
field to the stored values) before the next stage grows, so later stages are trained against
what decoders see. Batches come from a sampler (samplers.py), the loss from the caller.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ..fields.base import Lattice, ProgressiveField
from ..metrics import psnr_from_mse
from ..progress import SILENT, Progress
from .adam import Adam
from .samplers import Batch, Sampler


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


# loss(field, batch, stage) -> scalar tensor; it runs under the step's autocast
Loss = Callable[[ProgressiveField, Batch, int], torch.Tensor]


# Sums to one value: torch splits a full reduction of at least GRAIN (its grain size) elements
# across threads, each adding its own share into a buffer of per-thread partials (its
# "two-pass reduction"), so `x.sum()` and `x.mean()` give other bits at 1 and 2 threads. A
# reduction along a dimension is split by output element only (each output summed by one
# thread, the same way whichever), and one below the grain runs on one thread.
GRAIN = 32768
SUM_BLOCK = 4096


def fixed_order_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum of every element of `x` (differentiable) in an order no thread count changes:
    rows of SUM_BLOCK elements summed along their dimension, then the row sums (fewer than
    GRAIN), the last partial row on its own."""
    flat = x.reshape(-1)
    n = flat.numel()
    if n < GRAIN:
        return flat.sum()
    rows = n // SUM_BLOCK
    parts = flat[: rows * SUM_BLOCK].view(rows, SUM_BLOCK).sum(dim=1)
    if rows * SUM_BLOCK < n:
        parts = torch.cat([parts, flat[rows * SUM_BLOCK :].sum().reshape(1)])
    return fixed_order_sum(parts)


def fixed_order_mean(x: torch.Tensor) -> torch.Tensor:
    """`x.mean()` whose bits do not depend on the thread count (fixed_order_sum); the same
    gradient, 1 / numel per element."""
    return fixed_order_sum(x) / max(x.numel(), 1)


def mse_loss(field: ProgressiveField, batch: Batch, stage: int) -> torch.Tensor:
    """Mean squared error of the field at `stage` (computed in float32 whatever the autocast).
    Its value is a decision value (the batch PSNR that stops a stage at --target-psnr, a
    quality goal's controller, the rate-distortion cost of a quantisation step), so it is
    summed in a fixed order."""
    return fixed_order_mean((field.forward(batch.coords, stage, batch.lattice).float() - batch.values) ** 2)


def cosine_factor(step: int, steps: int, final_fraction: float) -> float:
    """Cosine decay from 1 at step 1 to `final_fraction` at step `steps`."""
    t = (step - 1) / max(steps - 1, 1)
    return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * t))


def make_optimiser(field: ProgressiveField, params: list[torch.nn.Parameter], lr: float) -> Adam:
    """Adam with the field's own betas and eps (a SIREN and a grid want different ones)."""
    return Adam(params, lr=lr, betas=getattr(field, "adam_betas", (0.9, 0.999)), eps=getattr(field, "adam_eps", 1e-8))


def optimise(
    field: ProgressiveField,
    optimiser: Adam,
    sampler: Sampler,
    stage: int,
    generator: torch.Generator,
    *,
    steps: int | None,
    lr: float,
    lr_factor: Optional[Callable[[int], float]] = None,
    loss: Loss = mse_loss,
    precision: str = "auto",
    freeze: bool = True,
    on_step: Optional[Callable[[int, float], bool]] = None,
) -> tuple[int, float]:
    """Train `field` at `stage`: up to `steps` steps (None: until `on_step` returns True), the
    learning rate `lr` times `lr_factor(step)` (constant without one), the freezing rules
    applied unless `freeze` is False (a slimmable net trains every entry). `on_step(step,
    batch_psnr)` returning True stops early. Returns (steps taken, the last batch PSNR)."""
    amp = autocast_dtype(field, sampler.device, precision)
    batch_psnr, step = float("nan"), 0
    # with freezing, gradients of frozen entries are zeroed after every backward pass: the
    # field may as well not compute them (fields.mlp: only the stage's rows)
    skip = getattr(field, "skip_frozen_gradients", None)
    previous = skip(freeze) if skip is not None else None
    try:
        while steps is None or step < steps:
            step += 1
            if lr_factor is not None:
                for group in optimiser.param_groups:
                    group["lr"] = lr * lr_factor(step)
            batch = sampler.batch(generator)
            optimiser.zero_grad(set_to_none=False)
            with torch.autocast(batch.coords.device.type, dtype=amp or torch.float32, enabled=amp is not None):
                value = loss(field, batch, stage)
            value.backward()
            if freeze:
                field.mask_gradients(stage)
            optimiser.step()
            batch_psnr = psnr_from_mse(value.item())
            if on_step is not None and on_step(step, batch_psnr):
                break
    finally:
        if skip is not None:
            skip(previous)
    return step, batch_psnr


def predict(field: ProgressiveField, coords: torch.Tensor, stage: int, chunk: int = 1 << 16) -> torch.Tensor:
    """Field output at every coordinate, in chunks so memory stays bounded."""
    with torch.no_grad():
        return torch.cat([field.forward(coords[i : i + chunk], stage) for i in range(0, coords.shape[0], chunk)])


def predict_lattice(field: ProgressiveField, lattice: Lattice, stage: int, device: torch.device, chunk: int = 1 << 16) -> torch.Tensor:
    """Field output at every point of a lattice (C order), evaluated in sub-lattices of whole
    first-axis slices of about `chunk` points: bounded memory, and the kernels' fast path."""
    with torch.no_grad():
        parts = [field.forward(torch.from_numpy(part.coords()).to(device), stage, part) for part in lattice.split(chunk)]
        return torch.cat(parts)


def fit_stage(
    field: ProgressiveField,
    stage: int,
    sampler: Sampler,
    config: TrainConfig,
    generator: torch.Generator,
    progress: Progress = SILENT,
    loss: Loss = mse_loss,
) -> StageFit:
    """One stage: a fresh Adam over what the stage may change, cosine-decayed, `config.steps`
    steps or until the batch PSNR reaches `config.target_psnr`."""
    lr = config.lr or getattr(field, "default_lr", 1e-3)
    optimiser = make_optimiser(field, field.trainable_parameters(stage), lr)
    start = time.perf_counter()
    progress.start(f"stage {stage}/{len(field.widths)} (width {field.widths[stage - 1]})", config.steps)

    def on_step(step: int, batch_psnr: float) -> bool:
        progress.update(step, _batch_label(batch_psnr, loss))
        return config.target_psnr is not None and batch_psnr >= config.target_psnr

    steps, batch_psnr = optimise(
        field, optimiser, sampler, stage, generator, steps=config.steps, lr=lr,
        lr_factor=lambda step: cosine_factor(step, config.steps, config.final_lr_fraction),
        loss=loss, precision=config.precision, on_step=on_step,
    )
    progress.finish(_batch_label(batch_psnr, loss))
    return StageFit(stage, steps, time.perf_counter() - start, batch_psnr)


def _batch_label(batch_psnr: float, loss: Loss) -> str:
    """The progress line's batch figure: PSNR for the MSE loss, else the loss value itself."""
    if loss is mse_loss:
        return f"psnr {batch_psnr:6.2f} dB"
    return f"loss {10 ** (-batch_psnr / 10):.4g}"  # psnr_from_mse inverted


def fit_progressive(
    field: ProgressiveField,
    sampler: Sampler,
    config: TrainConfig,
    on_stage_end: Callable[[int, StageFit], None] | None = None,
    progress: Progress = SILENT,
    initial_bias: torch.Tensor | None = None,
    loss: Loss = mse_loss,
    stage_sampler: Callable[[int], Sampler] | None = None,
    stage_loss: Callable[[int], Loss] | None = None,
) -> list[StageFit]:
    """Grow and fit every stage in turn; `stage_sampler(k)`, when given, is stage k's batches
    (temporal growth: the frames stage k covers), else `sampler` serves every stage;
    `stage_loss(k)`, when given, is stage k's loss (called once the stage has grown: a
    rate term over what it adds), else `loss`."""
    generator = torch.Generator().manual_seed(config.seed)
    fits = []
    for stage in range(1, len(field.widths) + 1):
        field.grow(stage, generator)
        if stage == 1 and initial_bias is not None and hasattr(field, "set_output_bias"):
            field.set_output_bias(initial_bias)
        stage_fn = stage_loss(stage) if stage_loss else loss
        fit = fit_stage(field, stage, stage_sampler(stage) if stage_sampler else sampler, config, generator, progress, stage_fn)
        if on_stage_end is not None:
            on_stage_end(stage, fit)
        fits.append(fit)
    return fits
