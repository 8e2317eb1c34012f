"""Encoder presets: each field architecture's defaults, and building the field an encode trains.

The defaults were chosen by measurement (README, "Fields and defaults"); `nfc encode --help`
documents them. Decoders never read this module: everything a decoder needs is in the file.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import UnknownCodecId, UsageError
from .registry import FIELDS

# The grid's learning-rate rule (benchmarks/results/search_payoff.md, "The learning rate"): at
# twice the base rate the default encode gained 0.7-1.1 dB on the four Kodak images whose mean
# luma gradient is above ~0.09 and lost up to 2.2 dB on smooth ones; fitted on the 24 images,
# checked on held-out halves (fit on the odd-numbered images, test on the even, and back).
RATE_GRADIENT_THRESHOLD = 0.085

# Per-architecture defaults; `nfc encode --help` documents them.
ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    # search_lr: the transform search's probe rates (times "lr"); the mean-luma-gradient
    # threshold above which the encode trains at twice "lr" (None: it keeps "lr"); and the
    # range (times "lr") a transform's rescaled rate stays in. Measured for the grid only.
    "siren": {"lr": 1e-3, "steps": 300, "dtype": {"*": "f16"}, "base_width": 30, "hidden_layers": 4,
              "search_lr": {"lr_factors": (0.5, 1.0, 2.0), "rate_gradient_threshold": None, "encode_lr_range": (0.5, 2.0)}},
    # Chosen by measurement on Kodak (benchmarks/results/default_config.md, README "Fields and
    # defaults"): quality per second on a 2-core CPU at <= 4 bpp.
    "grid": {
        "lr": 1e-2,
        "steps": 150,
        "search_lr": {"lr_factors": (1.0, 2.0, 4.0), "rate_gradient_threshold": RATE_GRADIENT_THRESHOLD, "encode_lr_range": (1.0, 2.0)},
        "dtype": {"table": "q8", "*": "f16"},
        "step_sigma": {"table": 1 / 6},  # q8 step = std / 6: keeps the default under 4 bpp on Kodak
        "n_levels": 16,
        "n_features": 2,
        "log2_hashmap_size": 14,
        "base_resolution": 16,
        "max_resolution_fraction": 1.0,  # finest level: the image's longer side
        "mlp_width": 64,  # 1 x 64: +1.2 dB over 1 x 32 for 1.12x the time (default_config.md)
        "hidden_layers": 1,
    },
}


# An entropy-coded encode (a rate or quality goal: ratecontrol.py) overrides the defaults with
# these: a field made for quantisation-aware training with a rate term, whose size then
# follows the goal (the rate term empties what the signal does not need).
CODED_DEFAULTS: dict[str, dict[str, Any]] = {
    "siren": {"coded_steps": 600, "table_step": 1.0},
    "grid": {
        # a single stage's training steps at --effort default (kodim01: 800 steps +0.6 dB over 400)
        "coded_steps": 800,
        "table_step": 0.05,  # the table's step while training (initial_lambda is calibrated for it)
        # dense octave levels (COOL-CHIC's latent pyramid), one feature each, the finest at one
        # vertex per sample. Chosen in exploratory runs on kodim01 (not a committed benchmark):
        # 300 plain steps fit it to 42.6 dB where the hashed default reached 32.9; under early
        # quantisation-aware training it was level with 2^12-2^14 hashed tables at 0.5 bpp
        "n_levels": 8,
        "n_features": 1,
        "log2_hashmap_size": 22,  # large enough that no level hashes
        "base_resolution": 6,
        "mlp_width": 64,
        "hidden_layers": 1,
        # stage k > 1 adds one level (the finest last) and doubles the MLP: a 4-stage file at
        # 2 bpp on a Kodak crop, 26.7 dB where an equal split of levels and units gave 24.0
        # (benchmarks/results/progressive_goal.md)
        "stage_split": "octaves",
    },
}


GOAL_OPTIONS = ("bpp", "size", "psnr", "stage_bpp")


def default_stages(config: Any) -> int:
    """Stages of an encode that did not say: its --widths' count, else 4, or 2 with a rate or
    quality goal (benchmarks/results/progressive_goal.md, a Kodak crop at 2 bpp: a 2-stage
    file's stages are 0.2 / 1.3 dB below single-stage files of their sizes, a 4-stage file's
    0.6-2.4 dB)."""
    if config.stages is not None:
        return config.stages
    if config.widths:
        return len(config.widths)
    return 2 if any(getattr(config, k, None) is not None for k in GOAL_OPTIONS) else 4


def build_field(config: Any, shape: tuple[int, ...], out_dim: int, resolution: tuple[int, ...] | None = None,
                overrides: dict[str, Any] | None = None) -> Any:
    """The field an encode trains: architecture defaults, the stage split, the signal's size.
    `resolution`: the finest useful grid resolution per axis (the domain's; None: the longest
    side on every axis); `overrides`: the modality's changes to the defaults
    (Modality.field_defaults; a grid's "max_resolution" caps every axis)."""
    arch, stages = config.arch, default_stages(config)
    field_cls = FIELDS.by_name(arch).load()
    d = {**ARCH_DEFAULTS[arch], **(overrides or {})}
    in_dim = len(shape)
    if arch == "siren":
        from .fields.siren import matched_widths

        widths = tuple(config.widths) if config.widths else matched_widths(stages, d["base_width"], in_dim, out_dim, d["hidden_layers"])
        return field_cls.build(widths, in_dim=in_dim, out_dim=out_dim, hidden_layers=d["hidden_layers"])
    if arch == "grid":

        n_levels = config.widths[-1] if config.widths else d["n_levels"]
        if not 1 <= n_levels <= 32:
            raise UsageError("a grid has 1..32 levels: the last of --widths must be at most 32")
        if not 1 <= stages <= n_levels:
            raise UsageError(f"a grid of {n_levels} levels supports 1..{n_levels} stages")
        widths = tuple(config.widths) if config.widths else stage_levels(n_levels, stages, d.get("stage_split", "even"))
        mlp = stage_units(d["mlp_width"], stages, d.get("unit_split", d.get("stage_split", "even")))
        resolution = tuple(min(r, d.get("max_resolution", r)) for r in (resolution or (max(shape),) * in_dim))
        grid = _grid_config(in_dim, n_levels, d["log2_hashmap_size"], d["base_resolution"], resolution, d["n_features"])
        return field_cls.build(widths, mlp, grid, out_dim, d["hidden_layers"])
    raise UnknownCodecId(f"no encoder for field architecture {arch!r}")


def stage_levels(n_levels: int, stages: int, split: str) -> tuple[int, ...]:
    """Levels through each stage. "even": an equal share each (coarse first); "octaves": the
    last K-1 stages one level each, finest last, stage 1 every coarser level (an octave
    pyramid's level holds about as many entries as every coarser one together, and each stage
    of a sized file doubles it)."""
    if split == "octaves":
        return tuple(n_levels - stages + k for k in range(1, stages + 1))
    return tuple(round(n_levels * k / stages) for k in range(1, stages + 1))


def stage_units(width: int, stages: int, split: str) -> tuple[int, ...]:
    """MLP units through each stage: an equal share each ("even"), or doubling ("octaves":
    the later, larger stages read their levels through more new units)."""
    if split == "octaves":
        return tuple(max(1, round(width * 2.0 ** (k - stages))) for k in range(1, stages + 1))
    return tuple(max(1, round(width * k / stages)) for k in range(1, stages + 1))


def probe_field(config: Any, crop_shape: tuple[int, ...], full_shape: tuple[int, ...], out_dim: int) -> Any:
    """The full-width, single-stage field a transform-search probe trains on a crop: the
    encode's field scaled to the crop so it has the same parameters per pixel (a grid keeps
    its cells per pixel and table entries per pixel; a SIREN its parameters per pixel), so a
    small crop is fitted in the same capacity-limited regime as the whole signal is, rather
    than memorised."""
    arch = config.arch
    field_cls = FIELDS.by_name(arch).load()
    d = ARCH_DEFAULTS[arch]
    in_dim = len(crop_shape)
    area = float(np.prod(crop_shape)) / float(np.prod(full_shape))
    full = build_field(config, full_shape, out_dim)
    if arch == "siren":
        width = max(4, round(full.widths[-1] * math.sqrt(area)))
        return field_cls.build((width,), in_dim=in_dim, out_dim=out_dim, hidden_layers=d["hidden_layers"])
    if arch == "grid":
        g = full.config()
        linear = max(crop_shape) / max(full_shape)
        log2_t = int(min(g["log2_hashmap_size"], max(6, round(g["log2_hashmap_size"] + math.log2(area)))))
        base = max(2, round(d["base_resolution"] * linear))
        grid = _grid_config(in_dim, g["n_levels"], log2_t, base, (max(crop_shape),) * in_dim, g["n_features"])
        return field_cls.build((g["n_levels"],), (g["mlp_widths"][-1],), grid, out_dim, g["hidden_layers"])
    raise UnknownCodecId(f"no encoder for field architecture {arch!r}")


def _grid_config(in_dim: int, n_levels: int, log2_t: int, base: int, resolution: tuple[int, ...], n_features: int) -> Any:
    """The default grid's levels: from `base` vertices per axis (at most the axis's resolution)
    to the axis's finest useful resolution times max_resolution_fraction, geometrically."""
    from .fields.grid_layout import GridConfig

    d = ARCH_DEFAULTS["grid"]
    finest = [max(2.0, r * d["max_resolution_fraction"]) for r in resolution]
    bases = [min(base, max(2, int(f))) for f in finest]
    scales = [GridConfig.scale_for(n_levels, b, max(f, b)) for b, f in zip(bases, finest)]
    return GridConfig(in_dim, n_levels, n_features, log2_t, tuple(bases), tuple(scales))


def quant_step(step_sigma: dict[str, float], name: str, values: np.ndarray, dtype: str) -> float | None:
    """Quantiser step of a q8/q16 tensor: a fraction of its standard deviation where the arch
    asks for one (never so small that the peak would clip), else None (peak / max code)."""
    if dtype not in ("q8", "q16") or values.size == 0:
        return None
    fraction = next((f for prefix, f in step_sigma.items() if name.startswith(prefix)), None)
    if fraction is None:
        return None
    limit = 127 if dtype == "q8" else 32767
    peak = float(np.max(np.abs(values)))
    step = max(float(np.std(values)) * fraction, peak / limit)
    return step if step > 0 else None


def storage_dtype(dtypes: Any, tensor_name: str) -> str:
    """Per-tensor storage precision: a single dtype, or a map of name prefix -> dtype ("*" default)."""
    if isinstance(dtypes, str):
        return dtypes
    for prefix, dtype in dtypes.items():
        if prefix != "*" and tensor_name.startswith(prefix):
            return dtype
    return dtypes["*"]
