"""Progressive (width-growing) SIREN, after Cho et al., "Streamable Neural Fields" (ECCV 2022).

Layers: `in_dim -> w`, `hidden_layers` x `w -> w`, `w -> out_dim`; `sin(omega * (W x + b))` after
every layer but the last: encodings.CentredCoordinates composed with a sine mlp.ProgressiveMLP. Each layer keeps its full-size weight; stage k owns
  first layer:   rows [w_{k-1}, w_k) (all input columns) and those bias entries;
  hidden layers: rows [w_{k-1}, w_k), columns [0, w_k) and those bias entries;
  output layer:  columns [w_{k-1}, w_k) (and the bias, at stage 1 only).
The new->old block (rows < w_{k-1}, columns >= w_{k-1}) is zero forever, so old units never
see new ones and decoding at width k is exact slicing to [:w_k, :w_k].
"""
from __future__ import annotations

from typing import Any, Mapping

from ..schema import require_float, require_int
from .encodings import CentredCoordinates
from .field import Field, TrainingDefaults
from .mlp import MLPConfig, ProgressiveMLP


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


TRAINING = TrainingDefaults(lr=1e-3)


def siren_field(widths: tuple[int, ...], in_dim: int = 2, out_dim: int = 3, hidden_layers: int = 4, omega: float = 30.0) -> Field:
    """A progressive SIREN: coordinates in [-1, 1], `hidden_layers` + 1 sine layers of the
    stage's width (the first reads the coordinates), a linear output."""
    if not widths or widths[0] <= 0 or any(b <= a for a, b in zip(widths, widths[1:])):
        raise ValueError(f"stage widths must be positive and strictly increasing, got {widths}")
    names = ("first",) + tuple(f"hidden{i}" for i in range(hidden_layers))
    config = MLPConfig((in_dim,) * len(widths), tuple(int(w) for w in widths), out_dim, hidden_layers + 1, "sine", float(omega), names)

    def header_config() -> dict[str, Any]:
        return {"in_dim": in_dim, "out_dim": out_dim, "hidden_layers": hidden_layers, "omega": float(omega)}

    return Field(ProgressiveSiren.arch, widths, CentredCoordinates(in_dim, len(widths)), ProgressiveMLP(config), header_config, TRAINING)


class ProgressiveSiren:
    """The "siren" architecture: reads and checks its header config, builds its Field."""

    arch = "siren"
    default_lr = TRAINING.lr
    build = staticmethod(siren_field)

    @staticmethod
    def from_config(widths: tuple[int, ...], config: Mapping[str, Any]) -> Field:
        return siren_field(widths, int(config["in_dim"]), int(config["out_dim"]), int(config["hidden_layers"]), float(config["omega"]))

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
