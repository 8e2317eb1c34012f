"""Progressive grid field: a multiresolution grid encoding feeding a ReLU MLP without biases
(tiny-cuda-nn's NetworkWithInputEncoding), growing by stages.

Stage k has the first L_k grid levels and an MLP of width W_k. It owns
  grid: the table entries of levels [L_{k-1}, L_k) (a contiguous slice of the flat table);
  mlp0 (features -> units): rows [W_{k-1}, W_k), columns [0, L_k * F);
  mlp1.. (units -> units):  rows [W_{k-1}, W_k), columns [0, W_k);
  out (units -> values):    columns [W_{k-1}, W_k) (and the output offset, at stage 1).
Old units never see new levels or new units (those blocks stay zero), so decoding at stage k
uses stages 1..k alone. The output offset (a per-channel constant added after the network)
sits outside the tiny-cuda-nn parameter vector.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ..schema import require_float, require_int, require_int_list
from .base import check_stage_tensors, load_into_views, uniform_, views_to_arrays
from .grid_layout import GridConfig
from .hashgrid import GridEncoding


class ProgressiveGrid(nn.Module):
    arch = "grid"
    # Instant-NGP's optimiser settings; used when the caller gives no learning rate.
    default_lr = 1e-2
    adam_betas = (0.9, 0.99)
    adam_eps = 1e-15
    mixed_precision_ok = True  # ReLU MLP: bf16 training steps are safe (evaluation stays float32)

    def __init__(
        self,
        widths: tuple[int, ...],
        mlp_widths: tuple[int, ...],
        grid: GridConfig,
        out_dim: int = 3,
        hidden_layers: int = 2,
    ):
        super().__init__()
        if not widths or any(b <= a for a, b in zip(widths, widths[1:])) or widths[0] <= 0:
            raise ValueError(f"stage level counts must be positive and strictly increasing, got {widths}")
        if widths[-1] != grid.n_levels:
            raise ValueError("the last stage must use every grid level")
        if len(mlp_widths) != len(widths) or any(b < a for a, b in zip(mlp_widths, mlp_widths[1:])) or mlp_widths[0] <= 0:
            raise ValueError("need one positive, non-decreasing MLP width per stage")
        if not 1 <= hidden_layers <= 8:
            raise ValueError("hidden_layers must be 1..8")
        self.widths = tuple(int(w) for w in widths)
        self.mlp_widths = tuple(int(w) for w in mlp_widths)
        self.grid_config = grid
        self.in_dim, self.out_dim, self.hidden_layers = grid.in_dim, out_dim, hidden_layers
        self.encoding = GridEncoding(grid)
        wmax, fmax = self.mlp_widths[-1], grid.n_levels * grid.n_features
        self.mlp = nn.ParameterList(
            [nn.Parameter(torch.zeros(wmax, fmax))] + [nn.Parameter(torch.zeros(wmax, wmax)) for _ in range(hidden_layers - 1)]
        )
        self.out_w = nn.Parameter(torch.zeros(out_dim, wmax))
        self.out_offset = nn.Parameter(torch.zeros(out_dim))

    # ---- configuration ------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        g = self.grid_config
        return {
            "in_dim": g.in_dim,
            "out_dim": self.out_dim,
            "n_levels": g.n_levels,
            "n_features": g.n_features,
            "log2_hashmap_size": g.log2_hashmap_size,
            "base_resolution": g.base_resolution,
            "per_level_scale": float(np.float32(g.per_level_scale)),
            "hidden_layers": self.hidden_layers,
            "mlp_widths": list(self.mlp_widths),
        }

    @staticmethod
    def validate_config(config: Mapping[str, Any], widths: tuple[int, ...] | None = None) -> dict[str, Any]:
        """Check a config read from a file (and the stage widths) before anything is allocated."""
        from ..errors import InvalidHeader

        where = "header.field.config"
        clean = {
            "in_dim": require_int(config, "in_dim", 1, 4, where),
            "out_dim": require_int(config, "out_dim", 1, 16, where),
            "n_levels": require_int(config, "n_levels", 1, 32, where),
            "n_features": require_int(config, "n_features", 1, 8, where),
            "log2_hashmap_size": require_int(config, "log2_hashmap_size", 3, 26, where),
            "base_resolution": require_int(config, "base_resolution", 1, 1 << 16, where),
            "per_level_scale": require_float(config, "per_level_scale", 1.0, 16.0, where),
            "hidden_layers": require_int(config, "hidden_layers", 1, 8, where),
        }
        stages = len(widths) if widths is not None else len(config.get("mlp_widths") or [])
        clean["mlp_widths"] = require_int_list(config, "mlp_widths", max(stages, 1), 1, 1024, where)
        if any(b < a for a, b in zip(clean["mlp_widths"], clean["mlp_widths"][1:])):
            raise InvalidHeader(f"{where}: 'mlp_widths' must not decrease")
        if widths is not None and widths[-1] != clean["n_levels"]:
            raise InvalidHeader(f"{where}: the last stage must use all {clean['n_levels']} levels")
        try:
            GridConfig(clean["in_dim"], clean["n_levels"], clean["n_features"], clean["log2_hashmap_size"], clean["base_resolution"], clean["per_level_scale"])
        except ValueError as exc:
            raise InvalidHeader(f"{where}: {exc}") from None
        return clean

    @staticmethod
    def allocated_params(widths: tuple[int, ...], config: Mapping[str, Any]) -> int:
        from .grid_layout import grid_layout

        grid = GridConfig(
            config["in_dim"], config["n_levels"], config["n_features"], config["log2_hashmap_size"],
            config["base_resolution"], config["per_level_scale"],
        )
        w = max(config["mlp_widths"])
        mlp = w * config["n_levels"] * config["n_features"] + (config["hidden_layers"] - 1) * w * w + config["out_dim"] * (w + 1)
        return grid_layout(grid).n_params + mlp

    @classmethod
    def from_config(cls, widths: tuple[int, ...], config: Mapping[str, Any]) -> "ProgressiveGrid":
        grid = GridConfig(
            config["in_dim"], config["n_levels"], config["n_features"], config["log2_hashmap_size"],
            config["base_resolution"], config["per_level_scale"],
        )
        try:
            return cls(widths, tuple(config["mlp_widths"]), grid, config["out_dim"], config["hidden_layers"])
        except ValueError as exc:
            from ..errors import InvalidHeader

            raise InvalidHeader(f"header.field: {exc}") from None

    # ---- evaluation -----------------------------------------------------------------------

    def forward(self, coords: torch.Tensor, stage: int) -> torch.Tensor:
        """Values at stage `stage`. Only the levels this stage owns receive table gradients
        (earlier levels are frozen), which skips most of the backward scatter."""
        l_lo, levels, _, width = self._spans(stage)
        # under bf16 autocast the first layer would round the features to bf16: the encoding
        # delivers them so
        bf16 = torch.is_autocast_enabled(coords.device.type) and torch.get_autocast_dtype(coords.device.type) == torch.bfloat16
        h = self.encoding(coords, levels, grad_levels=(l_lo, levels), dtype=torch.bfloat16 if bf16 else torch.float32)
        fdim = levels * self.grid_config.n_features
        h = torch.relu(nn.functional.linear(h, self.mlp[0][:width, :fdim]))
        for weight in self.mlp[1:]:
            h = torch.relu(nn.functional.linear(h, weight[:width, :width]))
        return nn.functional.linear(h, self.out_w[:, :width]) + self.out_offset

    # ---- growth and freezing --------------------------------------------------------------

    def _spans(self, stage: int) -> tuple[int, int, int, int]:
        l_lo = self.widths[stage - 2] if stage > 1 else 0
        w_lo = self.mlp_widths[stage - 2] if stage > 1 else 0
        return l_lo, self.widths[stage - 1], w_lo, self.mlp_widths[stage - 1]

    def _table_span(self, stage: int) -> tuple[int, int]:
        l_lo, l_hi, _, _ = self._spans(stage)
        f, offsets = self.grid_config.n_features, self.encoding.layout.offsets
        return int(offsets[l_lo]) * f, int(offsets[l_hi]) * f

    def grow(self, stage: int, generator: torch.Generator) -> None:
        l_lo, l_hi, w_lo, w_hi = self._spans(stage)
        fdim = l_hi * self.grid_config.n_features
        self.encoding.init_levels(range(l_lo, l_hi), generator)
        with torch.no_grad():
            # Xavier-uniform (as tiny-cuda-nn) for new units; new -> new hidden blocks start at zero
            # after stage 1 so new units begin as functions of the frozen ones.
            uniform_(self.mlp[0][w_lo:w_hi, :fdim], math.sqrt(6.0 / (fdim + w_hi)), generator)
            for weight in self.mlp[1:]:
                weight[w_lo:w_hi].zero_()
                uniform_(weight[w_lo:w_hi, : (w_hi if stage == 1 else w_lo)], math.sqrt(6.0 / (2 * w_hi)), generator)
            bound = math.sqrt(6.0 / (w_hi + self.out_dim))
            uniform_(self.out_w[:, w_lo:w_hi], bound if stage == 1 else 0.1 * bound, generator)

    def set_output_bias(self, values: torch.Tensor) -> None:
        with torch.no_grad():
            self.out_offset.copy_(values)

    def trainable_parameters(self, stage: int) -> list[nn.Parameter]:
        params = [self.encoding.table, *self.mlp, self.out_w]
        return params + ([self.out_offset] if stage == 1 else [])

    def mask_gradients(self, stage: int) -> None:
        _, _, w_lo, w_hi = self._spans(stage)
        t_lo, t_hi = self._table_span(stage)
        with torch.no_grad():
            grad = self.encoding.table.grad
            if grad is not None:
                grad[:t_lo].zero_()
                grad[t_hi:].zero_()
            fdim = self.widths[stage - 1] * self.grid_config.n_features
            for i, weight in enumerate(self.mlp):
                if weight.grad is None:
                    continue
                weight.grad[:w_lo].zero_()
                weight.grad[w_hi:].zero_()
                weight.grad[:, (fdim if i == 0 else w_hi) :].zero_()
            if self.out_w.grad is not None:
                self.out_w.grad[:, :w_lo].zero_()
                self.out_w.grad[:, w_hi:].zero_()
            if stage > 1 and self.out_offset.grad is not None:
                self.out_offset.grad.zero_()

    # ---- stage tensors ----------------------------------------------------------------------

    @staticmethod
    def stage_shapes(widths: tuple[int, ...], config: Mapping[str, Any], stage: int) -> dict[str, tuple[int, ...]]:
        from .grid_layout import grid_layout

        grid = GridConfig(
            config["in_dim"], config["n_levels"], config["n_features"], config["log2_hashmap_size"],
            config["base_resolution"], config["per_level_scale"],
        )
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

    def _stage_views(self, stage: int) -> dict[str, torch.Tensor]:
        _, l_hi, w_lo, w_hi = self._spans(stage)
        t_lo, t_hi = self._table_span(stage)
        f = self.grid_config.n_features
        views = {"table": self.encoding.table[t_lo:t_hi].view(-1, f), "mlp0.w": self.mlp[0][w_lo:w_hi, : l_hi * f]}
        for i, weight in enumerate(self.mlp[1:], start=1):
            views[f"mlp{i}.w"] = weight[w_lo:w_hi, :w_hi]
        views["out.w"] = self.out_w[:, w_lo:w_hi]
        if stage == 1:
            views["out.offset"] = self.out_offset
        return views

    def stage_tensors(self, stage: int) -> dict[str, np.ndarray]:
        return views_to_arrays(self._stage_views(stage))

    def load_stage_tensors(self, stage: int, tensors: Mapping[str, np.ndarray]) -> None:
        check_stage_tensors(self.stage_shapes(self.widths, self.config(), stage), tensors, stage)
        load_into_views(self._stage_views(stage), tensors)
