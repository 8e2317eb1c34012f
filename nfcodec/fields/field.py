"""A progressive field: a progressive encoding composed with a progressive MLP.

The architecture modules (grid.py, siren.py) say which encoding and which MLP make their field,
how their header config reads and writes, and their training defaults; the growth, freezing and
stage-tensor rules live once, here and in the two parts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from .base import Lattice, check_stage_tensors, load_into_views, views_to_arrays
from .encodings import ProgressiveEncoding
from .mlp import ProgressiveMLP


@dataclass(frozen=True)
class TrainingDefaults:
    lr: float  # used when the caller gives no learning rate
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    # bf16 training steps are safe (ReLU MLPs); SIREN's sin(30 x) is not. Evaluation stays float32.
    mixed_precision_ok: bool = False


class Field(nn.Module):
    def __init__(self, arch: str, widths: tuple[int, ...], encoding: ProgressiveEncoding, mlp: ProgressiveMLP,
                 header_config: Callable[[], dict[str, Any]], training: TrainingDefaults):
        super().__init__()
        if len(encoding.out_dims()) != len(widths) or tuple(encoding.out_dims()) != mlp.config.in_dims:
            raise ValueError("the encoding's stages and features must be the MLP's inputs")
        self.arch, self.widths = arch, tuple(int(w) for w in widths)
        self.encoding, self.mlp = encoding, mlp
        self.in_dim, self.out_dim = encoding.in_dim, mlp.config.out_dim
        self._header_config = header_config
        self.default_lr, self.adam_betas, self.adam_eps = training.lr, training.adam_betas, training.adam_eps
        self.mixed_precision_ok = training.mixed_precision_ok

    def config(self) -> dict[str, Any]:
        """Everything besides the widths that a decoder needs to rebuild the field."""
        return self._header_config()

    def forward(self, coords: torch.Tensor, stage: int, lattice: Lattice | None = None) -> torch.Tensor:
        # under bf16 autocast the first layer would round the features to bf16: the encoding
        # delivers them so
        device = coords.device.type
        bf16 = torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) == torch.bfloat16
        features = self.encoding(coords, stage, lattice, torch.bfloat16 if bf16 else torch.float32)
        return self.mlp(features, stage)

    def grow(self, stage: int, generator: torch.Generator) -> None:
        self.encoding.grow(stage, generator)
        self.mlp.grow(stage, generator)

    def set_output_bias(self, values: torch.Tensor) -> None:
        """Start the output at the signal mean (stage 1): a data-dependent init that saves steps."""
        self.mlp.set_output_bias(values)

    def coded_segments(self, stage: int) -> list[tuple[int, int]]:
        """Each level's entries within what stage `stage`'s encoding adds (its "table")."""
        return self.encoding.coded_segments(stage)

    def set_quantiser(self, quantiser: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        """Train against quantised encoding entries (train/quantisation.py), or stop (None)."""
        self.encoding.set_quantiser(quantiser)

    def trainable_parameters(self, stage: int) -> list[nn.Parameter]:
        return self.encoding.trainable_parameters(stage) + self.mlp.trainable_parameters(stage)

    def mask_gradients(self, stage: int) -> None:
        self.encoding.mask_gradients(stage)
        self.mlp.mask_gradients(stage)

    def skip_frozen_gradients(self, skip: bool) -> bool:
        """Whether training steps leave out the MLP's weight gradients that `mask_gradients`
        would zero (the caller masks every step); returns the previous setting."""
        previous = self.mlp.stage_gradients_only
        self.mlp.stage_gradients_only = bool(skip)
        return previous

    def _stage_views(self, stage: int) -> dict[str, torch.Tensor]:
        return {**self.encoding.stage_views(stage), **self.mlp.stage_views(stage)}

    def stage_shapes(self, stage: int) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the tensors stage `stage` stores, in chunk order."""
        return {name: tuple(view.shape) for name, view in self._stage_views(stage).items()}

    def stage_tensors(self, stage: int) -> dict[str, np.ndarray]:
        return views_to_arrays(self._stage_views(stage))

    def load_stage_tensors(self, stage: int, tensors: Mapping[str, np.ndarray]) -> None:
        check_stage_tensors(self.stage_shapes(stage), tensors, stage)
        load_into_views(self._stage_views(stage), tensors)
