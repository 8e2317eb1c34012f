"""The codec: signal -> transform -> progressive field -> quantised stages -> `.nff`, and back,
for every modality (nfcodec.modalities; the codec never asks which one it has).

This is the Python API behind `nfc encode`, `nfc decode`, `nfc info` and `nfc search`; the CLI
only parses arguments and formats what these functions return. Encoding lives here; decoding
(`decode`, `decode_bytes`, `info`, the incremental `Decoder`) in decoding.py, re-exported.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__, container
from .decoding import SEARCH_CHUNK, DecodeResult, Decoder, decode, decode_bytes, info, pack_search_table, read_nff_bytes
from .diagnostics import result_warnings
from .errors import UsageError
from .fsutil import atomic_write, check_output_path
from .modalities import Modality, Signal, modality_for_input
from .modalities.image import IMAGE, ImageSignal
from .presets import ARCH_DEFAULTS, CODED_DEFAULTS, GOAL_OPTIONS, build_field, default_stages
from .ratecontrol import Goal, goal_from_options, goal_warnings, stage_prefix_bytes
from .reports import EncodeResult, StageReport, stage_reports
from .progress import SILENT, Progress
from .stages import CodingPlan, StageWriter
from .registry import FIELDS, TRANSFORMS
from .search import SearchConfig, SearchResult, parse_transform_choice, search_for_encode
from .search.predictor import inverse_slope_sq
from .train import TrainConfig, fit_progressive
from .transforms import Transform, fit_transform, preset_names, resolve_preset

__all__ = [  # the codec API (decoding re-exported from decoding.py)
    "EncodeConfig", "EncodeResult", "StageReport", "encode", "encode_signal", "encode_image", "search_file",
    "DecodeResult", "Decoder", "decode", "decode_bytes", "info", "read_nff_bytes",
]


@dataclass
class EncodeConfig:
    arch: str = "grid"
    stages: int | None = None  # None: 4, or 2 with a rate or quality goal (resolved_config)
    widths: tuple[int, ...] | None = None  # explicit stage widths; default: the arch's rule
    steps: int | None = None  # training steps per stage (default: the arch's)
    lr: float | None = None
    batch_size: int = 1 << 19  # full batch up to 512k points (a Kodak image is 393k)
    seed: int = 0
    dtype: str | None = None  # parameter storage: f32, f16, q16, q8
    target_psnr: float | None = None
    compression: str = "zstd"
    precision: str = "auto"  # training arithmetic: "auto" (bf16 where native and safe), "fp32", "bf16"
    device: str = "auto"  # "auto": CUDA when available, else CPU; or "cpu", "cuda", "cuda:1", ...
    # "auto" (search every preset), a preset name (nfcodec.transforms.preset_names()), "none",
    # or a comma list of presets to search among
    transform: str = "auto"
    keep_interpolation: bool = False  # search only transforms a decoder can resample
    probe_side: int = 128  # search probes train on a centre crop of this side
    # how to read the input, for modalities that take options (video: size, fps, frames, resize)
    input_options: dict[str, Any] = field(default_factory=dict)
    # how stages grow: "spectral" (finer levels, wider MLPs; every stage covers the signal) or,
    # where the modality has it, "temporal" (stage k covers the first k/K of a clip's frames)
    grow: str = "spectral"
    # rate-distortion goal (at most one): the file's bits per point, its size ("20KB" or
    # bytes), its PSNR, or every stage's prefix rate ("0.05,0.15,0.5"); any of them makes an
    # entropy-coded file (formats/nff.md 6.4) whose size follows the goal
    bpp: float | None = None
    size: str | int | None = None
    psnr: float | None = None
    stage_bpp: str | tuple[float, ...] | None = None
    effort: str = "default"  # "fast" | "default" | "slow": training steps of a goal encode


# training steps of a goal encode, times the architecture's coded_steps
EFFORT_STEPS = {"fast": 0.4, "default": 1.0, "slow": 2.5}


def coded_steps(single_stage: int, effort: str, stages: int) -> int:
    """Training steps per stage of a goal encode: the architecture's single-stage count times
    the effort's factor, over sqrt(stages) (a 4-stage file trains twice a single stage's steps)."""
    return max(20, round(single_stage * EFFORT_STEPS[effort] / math.sqrt(stages)))


def has_goal(config: EncodeConfig) -> bool:
    return any(getattr(config, k) is not None for k in GOAL_OPTIONS)


def resolved_config(config: EncodeConfig | None) -> EncodeConfig:
    """The config with the defaults that depend on other options filled in (the stage count)."""
    config = config or EncodeConfig()
    return config if config.stages is not None else replace(config, stages=default_stages(config))


def validate_config(config: EncodeConfig, modality: Modality | None = None) -> None:
    """Every option checked before any work (reading the input included): a UsageError now
    instead of a failure after minutes of training. With `modality`, also whether it admits
    the transforms asked for."""
    config = resolved_config(config)
    if config.arch not in ARCH_DEFAULTS:
        raise UsageError(f"unknown architecture {config.arch!r} (known: {', '.join(sorted(ARCH_DEFAULTS))})")
    if not 1 <= config.stages <= container.limits_max_stages():
        raise UsageError(f"--stages must be between 1 and {container.limits_max_stages()}")
    if config.steps is not None and config.steps < 1:
        raise UsageError("--steps must be at least 1")
    if config.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if config.lr is not None and not (math.isfinite(config.lr) and config.lr > 0):
        raise UsageError(f"--lr must be a finite number > 0, got {config.lr!r}")
    if config.target_psnr is not None and not math.isfinite(config.target_psnr):
        raise UsageError(f"--target-psnr must be a finite number of dB, got {config.target_psnr!r}")
    if config.dtype is not None and config.dtype not in ("f32", "f16", "q16", "q8"):
        raise UsageError(f"unknown storage dtype {config.dtype!r} (known: f32, f16, q16, q8)")
    if config.precision not in ("auto", "fp32", "bf16"):
        raise UsageError(f"unknown precision {config.precision!r} (known: auto, fp32, bf16)")
    if config.grow not in ("spectral", "temporal", "spatial"):
        raise UsageError(f"unknown growth {config.grow!r} (known: spectral, temporal, spatial)")
    if modality is not None and config.grow not in modality.growth:
        raise UsageError(f"--grow {config.grow}: {modality.name} files grow {' or '.join(sorted(modality.growth))} in this version")
    if config.effort not in EFFORT_STEPS:
        raise UsageError(f"unknown effort {config.effort!r} (known: {', '.join(EFFORT_STEPS)})")
    goal_from_options(config.bpp, config.size, config.psnr, config.stage_bpp, 1 << 20, config.stages)  # malformed targets
    if config.arch == "siren" and has_goal(config):
        raise UsageError("rate and quality goals need a field with a table to code (--arch grid); a SIREN has none")
    if config.psnr is not None and modality is not None and modality.headline != "psnr":
        raise UsageError(f"--psnr: {modality.name} files measure {modality.headline}, not PSNR; use --size")
    if config.compression not in ("zstd", "none"):
        raise UsageError(f"unknown compression {config.compression!r} (known: zstd, none)")
    fixed, candidates = parse_transform_choice(config.transform)  # unknown transform names
    resolve_device(config.device)  # CUDA asked for on a machine without it
    if modality is not None:
        check_transforms_admitted(modality, [fixed] if fixed else list(candidates or ()), config.grow)


def admitted_transforms(modality: Modality, grow: str) -> frozenset[str]:
    """The transforms an encode may use: the modality's, less those that move samples across
    the signal when stages cover parts of it (temporal or spatial growth), since a stage must
    invert on its own part."""
    if grow == "spectral":
        return modality.transforms
    return frozenset(name for name in modality.transforms if not TRANSFORMS.by_name(name).load().moves_positions)


def check_transforms_admitted(modality: Modality, presets: list[str], grow: str = "spectral") -> None:
    admitted = admitted_transforms(modality, grow)
    refused = [p for p in presets if resolve_preset(p).transform not in admitted]
    if refused:
        names = ", ".join(n for n in preset_names() if resolve_preset(n).transform in admitted)
        grown = "" if grow == "spectral" else f" grown {grow}ly (a stage must invert on the part it covers)"
        raise UsageError(f"transform {', '.join(refused)} does not apply to {modality.name} signals{grown} (they admit: {names})")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("CUDA was requested but torch sees no CUDA device")
    return device


def encode_signal(
    modality: Modality, signal: Signal, config: EncodeConfig | None = None, progress: Progress = SILENT
) -> EncodeResult:
    """Fit a progressive field to a signal of any modality and return the `.nff` bytes with
    per-stage reports."""
    config = resolved_config(config)
    validate_config(config, modality)
    fixed, candidates = parse_transform_choice(config.transform)
    start = time.perf_counter()
    device = resolve_device(config.device)
    geometry = modality.geometry(signal)
    domain = modality.domain(geometry)
    goal = goal_from_options(config.bpp, config.size, config.psnr, config.stage_bpp, geometry.num_points, config.stages)
    # an entropy-coded encode: the architecture's compact defaults, then the modality's
    overrides = {**(CODED_DEFAULTS[config.arch] if goal else {}), **modality.field_defaults(config.arch)}
    defaults = {**ARCH_DEFAULTS[config.arch], **overrides}
    # built before the search: an impossible stage split fails before any training
    field_model = build_field(config, domain.shape, geometry.channels, domain.resolution, overrides)
    extents = modality.stage_extents(geometry, len(field_model.widths), config.grow)
    fixed, lr, searched = _choose_transform(modality, signal, config, fixed, candidates, defaults["lr"], device, progress)
    transform, offset = _fit_chosen(modality, signal, fixed, config.seed, geometry.channels)
    steps = config.steps or (coded_steps(defaults["coded_steps"], config.effort, len(field_model.widths)) if goal else defaults["steps"])
    transform_data = transform.data()
    extra_chunks = [container.transform_data_chunk(transform_data)] if transform_data is not None else []
    header = {
        "modality": modality.name, "signal": modality.describe(geometry), "transform": transform.describe(),
        "field": {"arch": config.arch, "id": FIELDS.by_name(config.arch).id, "config": field_model.config()},
        "compression": "none" if goal else config.compression,
        "encoder": {"name": "nfcodec", "version": __version__, "seed": config.seed, "steps": steps, "lr": lr},
    }
    plan = None if goal is None else _coding_plan(goal, field_model, header, extra_chunks, defaults["table_step"], geometry.num_points,
                                                 steps, config.effort, offset)
    # The field learns the transformed signal; every reported quality is measured after inverting.
    writer = StageWriter(modality, signal, geometry, transform, field_model.to(device), config, device, progress, extents, plan)
    train_config = TrainConfig(
        steps=steps, precision=config.precision, lr=lr,
        batch_size=config.batch_size,  # full batch when the signal fits, else random mini-batches
        seed=config.seed,
        # training measures PSNR on the transformed signal: move the target into that domain
        target_psnr=None if config.target_psnr is None or goal is not None else config.target_psnr + offset,
    )
    _train(writer, train_config, extents)

    def assemble() -> bytes:
        return container.assemble(
            modality=header["modality"], signal=header["signal"], transform=header["transform"], field_info=header["field"],
            stages=writer.encoded, extra_chunks=extra_chunks, compression=header["compression"], encoder=header["encoder"],
            # a sized file holds only what decoders need
            trailing_chunks=[(SEARCH_CHUNK, pack_search_table(searched.to_json(timings=False)))] if searched and goal is None else (),
        )

    data = assemble()
    if goal is not None and goal.sized:
        data = writer.land_on_size(assemble, data, plan.prefix_bytes[-1])
    raw_bytes = modality.raw_bytes(geometry)
    return EncodeResult(
        data, modality.name, config.arch, transform.describe(), stage_reports(writer, data), time.perf_counter() - start,
        geometry.num_points, transform_preset=fixed, search=searched, raw_bytes=raw_bytes,
        warnings=modality.warnings(signal) + result_warnings(len(data), raw_bytes, writer.quality[-1].get("psnr", math.nan))
        + goal_warnings(goal, len(data), writer.quality[-1].get("psnr", math.nan)),
        rate=modality.rate(len(data), geometry), rate_unit=modality.rate_unit, conventions=dict(modality.conventions),
    )


def _choose_transform(modality: Modality, signal: Signal, config: EncodeConfig, fixed: str | None, candidates: Any, lr: float,
                      device: torch.device, progress: Progress) -> tuple[str, float, SearchResult | None]:
    """The transform and learning rate: the fixed one, or the search's choice."""
    lr = config.lr or lr
    if fixed is None and admitted_transforms(modality, config.grow) == {"identity"}:
        fixed = "identity"  # nothing else applies (a shape's distances): no search
    if fixed is not None:
        return fixed, lr, None
    searched = search_for_encode(modality.search_lattice(signal), config, search_config_for(config, candidates),
                                 admitted_transforms(modality, config.grow), device=device, progress=progress)
    progress.message(f"transform search: {searched.transform}, lr {searched.lr:g} ({searched.seconds:.1f} s): {searched.reason}")
    return searched.transform, searched.lr, searched


def _fit_chosen(modality: Modality, signal: Signal, name: str, seed: int, channels: int) -> tuple[Transform, float]:
    """The chosen transform fitted to the signal, and its trained-domain PSNR offset. The float
    copy of the signal they need (an image's, 12 bytes a pixel) is freed on return, before training."""
    lattice = modality.search_lattice(signal)
    transform = fit_transform(name, lattice, seed)
    return transform, trained_psnr_offset(transform, lattice.reshape(-1, channels))


def _coding_plan(goal: Goal, field_model: Any, header: dict[str, Any], extra_chunks: list[tuple[str, bytes]], table_step: float,
                 points: int, steps: int, effort: str, offset: float) -> CodingPlan:
    """How a goal encode trains and codes: the header's bytes charged first, then the stages'."""
    shapes = [field_model.stage_shapes(k) for k in range(1, len(field_model.widths) + 1)]
    before = container.bytes_before_stages(shapes, extra_chunks, **header)
    return CodingPlan(stage_prefix_bytes(goal, len(shapes), before), goal.psnr, before, table_step, points, steps,
                      fast=effort == "fast", trained_psnr_offset=offset)


def _train(writer: StageWriter, train_config: TrainConfig, extents: list[Any]) -> None:
    """Every stage, each with the batches of the part of the signal it covers."""
    modality, signal, transform, config, device = writer.modality, writer.signal, writer.transform, writer.config, writer.device
    sampler = modality.sampler(signal, transform, config.batch_size, device, extents[0])

    def sampler_for(k: int) -> Any:
        return sampler if extents[k - 1] == extents[0] else modality.sampler(signal, transform, config.batch_size, device, extents[k - 1])

    fit_progressive(writer.field, sampler, train_config, on_stage_end=writer.finalise, progress=writer.progress,
                    initial_bias=sampler.mean, stage_loss=writer.stage_loss(modality.loss(config.arch), sampler_for),
                    stage_sampler=None if all(e is None for e in extents) else sampler_for)


def encode_image(signal: ImageSignal, config: EncodeConfig | None = None, progress: Progress = SILENT) -> EncodeResult:
    """`encode_signal` for an image already read."""
    return encode_signal(IMAGE, signal, config, progress)


def search_config_for(config: EncodeConfig, candidates: tuple[str, ...] | None) -> SearchConfig:
    # the architecture's rate policy; an explicit --lr is kept: the search compares transforms only
    policy = ARCH_DEFAULTS[config.arch]["search_lr"]
    return SearchConfig(
        candidates=candidates, keep_interpolation=config.keep_interpolation, probe_side=config.probe_side,
        seed=config.seed, lr_factors=(1.0,) if config.lr else tuple(policy["lr_factors"]),
        rate_gradient_threshold=None if config.lr else policy["rate_gradient_threshold"],
        encode_lr_range=tuple(policy["encode_lr_range"]),
    )


OFFSET_BLOCK = 1 << 22  # positions per block of the slope estimate (a signal of fewer: one block, as before)


def trained_psnr_offset(transform: Transform, values: np.ndarray) -> float:
    """dB to add to an original-domain PSNR to get the trained-domain one: exact for affine
    maps and permutations, for gamma from the mean squared slope of the inverse over the
    trained values. `values` [N, C] are the signal's, transformed here block by block (a
    transform without a factor is pointwise), so that memory stays bounded for large signals."""
    factor = transform.mse_factor()
    if factor is None:
        parts = [(inverse_slope_sq(transform, transform.forward(values[i : i + OFFSET_BLOCK])), len(values[i : i + OFFSET_BLOCK]))
                 for i in range(0, len(values), OFFSET_BLOCK)]
        factor = parts[0][0] if len(parts) == 1 else sum(f * n for f, n in parts) / len(values)
    return 10.0 * math.log10(factor) if factor > 0 else 0.0


def read_options(modality: Modality, config: EncodeConfig) -> dict[str, Any]:
    """The user's input options, plus the encode's seed for a modality that draws its training
    data when reading (a shape's sample points)."""
    return {**config.input_options, **({"seed": config.seed} if "seed" in modality.read_options else {})}


def search_file(
    input_path: str | os.PathLike, config: EncodeConfig | None = None, search_config: SearchConfig | None = None,
    progress: Progress = SILENT,
) -> SearchResult:
    """Run only the transform search an encode would run on a file (any modality)."""
    config = resolved_config(config)
    modality = modality_for_input(input_path, config.input_options)
    validate_config(config, modality)
    if admitted_transforms(modality, config.grow) == {"identity"}:
        raise UsageError(f"{modality.name} signals admit only the identity transform: there is nothing to search")
    lattice = modality.search_lattice(modality.read(input_path, read_options(modality, config)))
    search_config = search_config or search_config_for(config, None)
    return search_for_encode(lattice, config, search_config, admitted_transforms(modality, config.grow), device=resolve_device(config.device),
                             progress=progress)


def encode(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike | None = None,
    config: EncodeConfig | None = None,
    progress: Progress = SILENT,
) -> EncodeResult:
    """Encode a file (its modality found from its contents) to `.nff` (default: beside the
    input); the output appears atomically. Every check runs before any training."""
    output = Path(output_path) if output_path else Path(input_path).with_suffix(".nff")
    config = resolved_config(config)
    modality = modality_for_input(input_path, config.input_options)  # what the input is, before where the output goes
    validate_config(config, modality)
    check_output_path(output, inputs=[input_path])
    result = encode_signal(modality, modality.read(input_path, read_options(modality, config)), config, progress)
    atomic_write(output, result.data)
    result.output = str(output)
    return result
