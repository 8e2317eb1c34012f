"""Progressive (width-growing) SIREN, after Cho et al., "Streamable Neural Fields" (ECCV 2022).

Layers: `in_dim -> w`, `hidden_layers` x `w -> w`, `w -> out_dim`; `sin(omega * (W x + b))` after
every layer but the last. Each layer keeps its full-size weight; stage k owns
  first layer:   rows [w_{k-1}, w_k) (all input columns) and those bias entries;
  hidden layers: rows [w_{k-1}, w_k), columns [0, w_k) and those bias entries;
  output layer:  columns [w_{k-1}, w_k) (and the bias, at stage 1 only).
The new->old block (rows < w_{k-1}, columns >= w_{k-1}) is zero forever, so old units never
see new ones and decoding at width k is exact slicing to [:w_k, :w_k].
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ..schema import require_float, require_int
from .base import check_stage_tensors, load_into_views, uniform_, views_to_arrays


def dense_params(width: int, in_dim: int = 2, out_dim: int = 3, hidden_layers: int = 4) -> int:
    """Parameters of a plain SIREN of one width (the individually-trained baseline)."""
    return (in_dim + 1) * width + hidden_layers * (width * width + width) + out_dim * width + out_dim


def progressive_params(widths: tuple[int, ...], in_dim: int = 2, out_dim: int = 3, hidden_layers: int = 4) -> list[int]:
    """Cumulative parameters of sub-network k = dense(w_k) - L * sum_{j<k} w_j (w_{j+1} - w_j)."""
    counts = []
    for k, w in enumerate(widths):
        zero_blocks = sum(widths[j] * (widths[j + 1] - widths[j]) for j in range(k))
        counts.append(dense_params(w, in_dim, out_dim, hidden_layers) - hidden_layers * zero_blocks)
    return counts


def matched_widths(stages: int, base_width: int = 30, in_dim: int = 2, out_dim: int = 3, hidden_layers: int = 4) -> tuple[int, ...]:
    """Stage widths whose sub-networks have the parameter counts closest to plain SIRENs of width
    base, 2*base, ... -- the paper's rule; for 4 stages of base 30 this gives 30/69/110/151."""
    widths: list[int] = []
    for k in range(1, stages + 1):
        target = dense_params(base_width * k, in_dim, out_dim, hidden_layers)
        w = widths[-1] + 1 if widths else 1
        while progressive_params(tuple(widths + [w + 1]), in_dim, out_dim, hidden_layers)[-1] <= target:
            w += 1
        below = progressive_params(tuple(widths + [w]), in_dim, out_dim, hidden_layers)[-1]
        above = progressive_params(tuple(widths + [w + 1]), in_dim, out_dim, hidden_layers)[-1]
        widths.append(w if target - below <= above - target else w + 1)
    return tuple(widths)


class ProgressiveSiren(nn.Module):
    arch = "siren"

    def __init__(self, widths: tuple[int, ...], in_dim: int = 2, out_dim: int = 3, hidden_layers: int = 4, omega: float = 30.0):
        super().__init__()
        if not widths or any(b <= a for a, b in zip(widths, widths[1:])) or widths[0] <= 0:
            raise ValueError(f"stage widths must be positive and strictly increasing, got {widths}")
        self.widths = tuple(int(w) for w in widths)
        self.in_dim, self.out_dim, self.hidden_layers, self.omega = in_dim, out_dim, hidden_layers, float(omega)
        wmax = self.widths[-1]
        self.first_w = nn.Parameter(torch.zeros(wmax, in_dim))
        self.first_b = nn.Parameter(torch.zeros(wmax))
        self.hidden_w = nn.ParameterList([nn.Parameter(torch.zeros(wmax, wmax)) for _ in range(hidden_layers)])
        self.hidden_b = nn.ParameterList([nn.Parameter(torch.zeros(wmax)) for _ in range(hidden_layers)])
        self.out_w = nn.Parameter(torch.zeros(out_dim, wmax))
        self.out_b = nn.Parameter(torch.zeros(out_dim))

    # ---- the ProgressiveField contract ------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {"in_dim": self.in_dim, "out_dim": self.out_dim, "hidden_layers": self.hidden_layers, "omega": self.omega}

    @classmethod
    def from_config(cls, widths: tuple[int, ...], config: Mapping[str, Any]) -> "ProgressiveSiren":
        return cls(widths, int(config["in_dim"]), int(config["out_dim"]), int(config["hidden_layers"]), float(config["omega"]))

    def _span(self, stage: int) -> tuple[int, int]:
        return (self.widths[stage - 2] if stage > 1 else 0), self.widths[stage - 1]

    def forward(self, coords: torch.Tensor, stage: int) -> torch.Tensor:
        w = self.widths[stage - 1]
        x = coords * 2.0 - 1.0  # the field's input range is [-1, 1]
        h = torch.sin(self.omega * nn.functional.linear(x, self.first_w[:w], self.first_b[:w]))
        for weight, bias in zip(self.hidden_w, self.hidden_b):
            h = torch.sin(self.omega * nn.functional.linear(h, weight[:w, :w], bias[:w]))
        return nn.functional.linear(h, self.out_w[:, :w], self.out_b)

    def grow(self, stage: int, generator: torch.Generator) -> None:
        lo, hi = self._span(stage)
        with torch.no_grad():
            uniform_(self.first_w[lo:hi], 1.0 / self.in_dim, generator)
            uniform_(self.first_b[lo:hi], 1.0 / math.sqrt(self.in_dim), generator)
            bound = math.sqrt(6.0 / hi) / self.omega
            for weight, bias in zip(self.hidden_w, self.hidden_b):
                weight[lo:hi, :].zero_()
                # old -> new lateral block: fresh SIREN init; new -> new starts at zero after stage 1
                uniform_(weight[lo:hi, : (hi if stage == 1 else lo)], bound, generator)
                uniform_(bias[lo:hi], 1.0 / math.sqrt(hi), generator)
            uniform_(self.out_w[:, lo:hi], bound, generator)
            if stage == 1:
                uniform_(self.out_b, 1.0 / math.sqrt(hi), generator)

    def set_output_bias(self, values: torch.Tensor) -> None:
        """Start the output bias at the signal mean (stage 1): a data-dependent init that saves steps."""
        with torch.no_grad():
            self.out_b.copy_(values)

    def trainable_parameters(self, stage: int) -> list[nn.Parameter]:
        params = [self.first_w, self.first_b, *self.hidden_w, *self.hidden_b, self.out_w]
        return params + ([self.out_b] if stage == 1 else [])

    def mask_gradients(self, stage: int) -> None:
        lo, hi = self._span(stage)
        with torch.no_grad():
            for p in (self.first_w, self.first_b, *self.hidden_w, *self.hidden_b):
                if p.grad is not None:
                    p.grad[:lo].zero_()
                    p.grad[hi:].zero_()
            for weight in self.hidden_w:
                if weight.grad is not None:
                    weight.grad[:, hi:].zero_()  # new -> old stays zero; beyond-width unused
            if self.out_w.grad is not None:
                self.out_w.grad[:, :lo].zero_()
                self.out_w.grad[:, hi:].zero_()
            if stage > 1 and self.out_b.grad is not None:
                self.out_b.grad.zero_()

    @staticmethod
    def stage_shapes(widths: tuple[int, ...], config: Mapping[str, Any], stage: int) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the tensors stage `stage` stores (what its chunk must hold)."""
        lo, hi = (widths[stage - 2] if stage > 1 else 0), widths[stage - 1]
        n = hi - lo
        shapes: dict[str, tuple[int, ...]] = {"first.w": (n, config["in_dim"]), "first.b": (n,)}
        for i in range(config["hidden_layers"]):
            shapes[f"hidden{i}.w"] = (n, hi)
            shapes[f"hidden{i}.b"] = (n,)
        shapes["out.w"] = (config["out_dim"], n)
        if stage == 1:
            shapes["out.b"] = (config["out_dim"],)
        return shapes

    @staticmethod
    def validate_config(config: Mapping[str, Any], widths: tuple[int, ...] | None = None) -> dict[str, Any]:
        """Check a config read from a file before anything is allocated from it (any widths fit)."""
        where = "header.field.config"
        return {
            "in_dim": require_int(config, "in_dim", 1, 4, where),
            "out_dim": require_int(config, "out_dim", 1, 16, where),
            # stage 1 stores 2 * hidden_layers + 5 tensors; the container allows 64 per stage
            "hidden_layers": require_int(config, "hidden_layers", 0, 16, where),
            "omega": require_float(config, "omega", 1e-3, 1e4, where),
        }

    @staticmethod
    def allocated_params(widths: tuple[int, ...], config: Mapping[str, Any]) -> int:
        """Entries the decoder allocates (full-size matrices), checked against a cap first."""
        w = widths[-1]
        return (config["in_dim"] + 1) * w + config["hidden_layers"] * (w * w + w) + config["out_dim"] * (w + 1)

    def _stage_views(self, stage: int) -> dict[str, torch.Tensor]:
        lo, hi = self._span(stage)
        views = {"first.w": self.first_w[lo:hi], "first.b": self.first_b[lo:hi]}
        for i, (weight, bias) in enumerate(zip(self.hidden_w, self.hidden_b)):
            views[f"hidden{i}.w"] = weight[lo:hi, :hi]
            views[f"hidden{i}.b"] = bias[lo:hi]
        views["out.w"] = self.out_w[:, lo:hi]
        if stage == 1:
            views["out.b"] = self.out_b
        return views

    def stage_tensors(self, stage: int) -> dict[str, np.ndarray]:
        return views_to_arrays(self._stage_views(stage))

    def load_stage_tensors(self, stage: int, tensors: Mapping[str, np.ndarray]) -> None:
        check_stage_tensors(self.stage_shapes(self.widths, self.config(), stage), tensors, stage)
        load_into_views(self._stage_views(stage), tensors)
