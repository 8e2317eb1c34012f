"""The "grid" field architecture (formats/annex-field-grid.md): a multiresolution grid encoding
feeding a ReLU MLP without biases (tiny-cuda-nn's NetworkWithInputEncoding), growing by stages.

Stage k has the first L_k grid levels (encodings.GridLevels) and an MLP of width W_k
(mlp.ProgressiveMLP). It owns
  grid: the table entries of levels [L_{k-1}, L_k) (a contiguous slice of the flat table);
  mlp0 (features -> units): rows [W_{k-1}, W_k), columns [0, L_k * F);
  mlp1.. (units -> units):  rows [W_{k-1}, W_k), columns [0, W_k);
  out (units -> values):    columns [W_{k-1}, W_k) (and the output offset, at stage 1).
Old units never see new levels or new units (those blocks stay zero), so decoding at stage k
uses stages 1..k alone. The output offset (a per-channel constant added after the network)
sits outside the tiny-cuda-nn parameter vector. The header's `widths` are the level counts;
`config.mlp_widths` the MLP's.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import InvalidHeader
from ..schema import require_float, require_int, require_int_list
from .encodings import GridLevels
from .field import Field, TrainingDefaults
from .grid_layout import GridConfig, grid_layout
from .mlp import MLPConfig, ProgressiveMLP

# Instant-NGP's optimiser settings; used when the caller gives no learning rate
TRAINING = TrainingDefaults(lr=1e-2, adam_betas=(0.9, 0.99), adam_eps=1e-15, mixed_precision_ok=True)


def grid_field(widths: tuple[int, ...], mlp_widths: tuple[int, ...], grid: GridConfig, out_dim: int = 3,
               hidden_layers: int = 2) -> Field:
    """A progressive grid field: stage k uses the first widths[k-1] levels and mlp_widths[k-1] units."""
    if len(mlp_widths) != len(widths):
        raise ValueError("need one MLP width per stage")
    if not 1 <= hidden_layers <= 8:
        raise ValueError("hidden_layers must be 1..8")
    encoding = GridLevels(grid, tuple(widths))
    names = tuple(f"mlp{i}" for i in range(hidden_layers))
    mlp = ProgressiveMLP(MLPConfig(encoding.out_dims(), tuple(int(w) for w in mlp_widths), out_dim, hidden_layers, "relu", layer_names=names))

    def header_config() -> dict[str, Any]:
        return _header_config(grid, out_dim, hidden_layers, mlp_widths)

    return Field(ProgressiveGrid.arch, widths, encoding, mlp, header_config, TRAINING)


def _header_config(grid: GridConfig, out_dim: int, hidden_layers: int, mlp_widths: tuple[int, ...]) -> dict[str, Any]:
    def per_axis(value: Any, cast: Any) -> Any:  # a scalar when every axis has the same value
        return [cast(v) for v in value] if isinstance(value, tuple) else cast(value)

    return {
        "in_dim": grid.in_dim,
        "out_dim": out_dim,
        "n_levels": grid.n_levels,
        "n_features": grid.n_features,
        "log2_hashmap_size": grid.log2_hashmap_size,
        "base_resolution": per_axis(grid.base_resolution, int),
        "per_level_scale": per_axis(grid.per_level_scale, lambda v: float(np.float32(v))),
        "hidden_layers": hidden_layers,
        "mlp_widths": [int(w) for w in mlp_widths],
    }


def grid_config_from_header(config: Mapping[str, Any]) -> GridConfig:
    """The GridConfig of a (validated) header config."""
    def per_axis(value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    return GridConfig(
        config["in_dim"], config["n_levels"], config["n_features"], config["log2_hashmap_size"],
        per_axis(config["base_resolution"]), per_axis(config["per_level_scale"]),
    )


def _require_per_axis(config: Mapping[str, Any], key: str, in_dim: int, check: Any, where: str) -> Any:
    """A number for every axis, or a list of one per axis (formats/annex-field-grid.md)."""
    value = config.get(key) if isinstance(config, Mapping) else None
    if isinstance(value, list):
        if len(value) != in_dim:
            raise InvalidHeader(f"{where}: '{key}' must be a number or a list of {in_dim}")
        return [check({key: v}, key) for v in value]
    return check(config, key)


class ProgressiveGrid:
    """The "grid" architecture: reads and checks its header config, builds its Field."""

    arch = "grid"
    default_lr = TRAINING.lr
    build = staticmethod(grid_field)

    @staticmethod
    def validate_config(config: Mapping[str, Any], widths: tuple[int, ...] | None = None) -> dict[str, Any]:
        """Check a config read from a file (and the stage widths) before anything is allocated."""
        where = "header.field.config"
        clean = {
            "in_dim": require_int(config, "in_dim", 1, 4, where),
            "out_dim": require_int(config, "out_dim", 1, 16, where),
            "n_levels": require_int(config, "n_levels", 1, 32, where),
            "n_features": require_int(config, "n_features", 1, 8, where),
            "log2_hashmap_size": require_int(config, "log2_hashmap_size", 3, 26, where),
        }
        clean["base_resolution"] = _require_per_axis(config, "base_resolution", clean["in_dim"], lambda raw, key: require_int(raw, key, 1, 1 << 16, where), where)
        clean["per_level_scale"] = _require_per_axis(config, "per_level_scale", clean["in_dim"], lambda raw, key: require_float(raw, key, 1.0, 16.0, where), where)
        clean["hidden_layers"] = require_int(config, "hidden_layers", 1, 8, where)
        stages = len(widths) if widths is not None else len(config.get("mlp_widths") or [])
        clean["mlp_widths"] = require_int_list(config, "mlp_widths", max(stages, 1), 1, 1024, where)
        if any(b < a for a, b in zip(clean["mlp_widths"], clean["mlp_widths"][1:])):
            raise InvalidHeader(f"{where}: 'mlp_widths' must not decrease")
        if widths is not None and widths[-1] != clean["n_levels"]:
            raise InvalidHeader(f"{where}: the last stage must use all {clean['n_levels']} levels")
        try:
            grid_config_from_header(clean)
        except ValueError as exc:
            raise InvalidHeader(f"{where}: {exc}") from None
        return clean

    @staticmethod
    def allocated_params(widths: tuple[int, ...], config: Mapping[str, Any]) -> int:
        w = max(config["mlp_widths"])
        mlp = w * config["n_levels"] * config["n_features"] + (config["hidden_layers"] - 1) * w * w + config["out_dim"] * (w + 1)
        return grid_layout(grid_config_from_header(config)).n_params + mlp

    @staticmethod
    def from_config(widths: tuple[int, ...], config: Mapping[str, Any]) -> Field:
        try:
            return grid_field(widths, tuple(config["mlp_widths"]), grid_config_from_header(config), config["out_dim"], config["hidden_layers"])
        except ValueError as exc:
            raise InvalidHeader(f"header.field: {exc}") from None

    @staticmethod
    def stage_shapes(widths: tuple[int, ...], config: Mapping[str, Any], stage: int) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the tensors stage `stage` stores (what its chunk must hold)."""
        grid = grid_config_from_header(config)
        layout = grid_layout(grid)
        mlp_widths = config["mlp_widths"]
        l_lo, l_hi = (widths[stage - 2] if stage > 1 else 0), widths[stage - 1]
        w_lo, w_hi = (mlp_widths[stage - 2] if stage > 1 else 0), mlp_widths[stage - 1]
        shapes: dict[str, tuple[int, ...]] = {
            "table": (int(layout.offsets[l_hi] - layout.offsets[l_lo]), grid.n_features),
            "mlp0.w": (w_hi - w_lo, l_hi * grid.n_features),
        }
        for i in range(1, config["hidden_layers"]):
            shapes[f"mlp{i}.w"] = (w_hi - w_lo, w_hi)
        shapes["out.w"] = (config["out_dim"], w_hi - w_lo)
        if stage == 1:
            shapes["out.offset"] = (config["out_dim"],)
        return shapes
