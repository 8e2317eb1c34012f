"""A progressive MLP: layers that grow in width by stages, old units never seeing new ones.

`layers` hidden layers of width w_k at stage k (the first takes the encoding's in_k features),
then a linear output layer. Stage k owns, in every hidden layer, rows [w_{k-1}, w_k) over the
columns it may read ([0, in_k) for the first, [0, w_k) for the others) and those biases; in the
output layer columns [w_{k-1}, w_k), and the output bias at stage 1 only. Everything else stays
frozen; the new->old blocks stay zero forever, so width k is exact slicing to [:w_k, :w_k].
Two activations: "relu" (no biases, an output offset; Xavier init, as tiny-cuda-nn) and "sine"
(SIREN: biases, sin(omega x), the init of Sitzmann et al. and of Cho et al. for growth).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import mlp_kernels
from .base import uniform_


@dataclass(frozen=True)
class MLPConfig:
    in_dims: tuple[int, ...]  # inputs the first layer reads at each stage (non-decreasing)
    widths: tuple[int, ...]  # hidden units at each stage (non-decreasing)
    out_dim: int
    layers: int  # hidden layers, each of the stage's width
    activation: str = "relu"  # "relu" or "sine"
    omega: float = 30.0  # sine only: sin(omega * (W x + b))
    # tensor names in a stage's chunk, one per hidden layer (the field's annex names them)
    layer_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.activation not in ("relu", "sine"):
            raise ValueError(f"activation must be relu or sine, got {self.activation!r}")
        if len(self.in_dims) != len(self.widths) or not self.widths:
            raise ValueError("need one input size and one width per stage")
        for name, values in (("in_dims", self.in_dims), ("widths", self.widths)):
            if values[0] <= 0 or any(b < a for a, b in zip(values, values[1:])):
                raise ValueError(f"{name} must be positive and non-decreasing, got {values}")
        if self.layers < 1 or self.out_dim < 1:
            raise ValueError("an MLP needs at least one hidden layer and one output")
        if self.layer_names and len(self.layer_names) != self.layers:
            raise ValueError("one name per hidden layer")

    @property
    def bias(self) -> bool:
        return self.activation == "sine"

    def names(self) -> tuple[str, ...]:
        return self.layer_names or tuple(f"layer{i}" for i in range(self.layers))


class ProgressiveMLP(nn.Module):
    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        wmax, in_max = config.widths[-1], config.in_dims[-1]
        shapes = [(wmax, in_max)] + [(wmax, wmax)] * (config.layers - 1)
        self.weights = nn.ParameterList([nn.Parameter(torch.zeros(shape)) for shape in shapes])
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(wmax)) for _ in shapes] if config.bias else [])
        self.out_w = nn.Parameter(torch.zeros(config.out_dim, wmax))
        self.out_bias = nn.Parameter(torch.zeros(config.out_dim))  # the output offset without biases
        # a training step computes no weight gradient for the entries `mask_gradients` would
        # zero (set while train.optimise trains one stage with freezing: a ReLU MLP's later
        # stages then cost what their new units need, not the whole width)
        self.stage_gradients_only = False

    def span(self, stage: int) -> tuple[int, int]:
        widths = self.config.widths
        return (widths[stage - 2] if stage > 1 else 0), widths[stage - 1]

    def _columns(self, layer: int, stage: int) -> int:
        return self.config.in_dims[stage - 1] if layer == 0 else self.config.widths[stage - 1]

    def forward(self, h: torch.Tensor, stage: int) -> torch.Tensor:
        c = self.config
        width = c.widths[stage - 1]
        if c.bias:  # SIREN: torch's linear (its SDF loss differentiates the network twice)
            for i, weight in enumerate(self.weights):
                h = torch.sin(c.omega * nn.functional.linear(h, weight[:width, : self._columns(i, stage)], self.biases[i][:width]))
            return nn.functional.linear(h, self.out_w[:, :width], self.out_bias)
        lo, hi = self.span(stage)
        rows, every = ((lo, hi), None) if self.stage_gradients_only else (None, None)
        for i, weight in enumerate(self.weights):
            h = torch.relu(linear(h, weight[:width, : self._columns(i, stage)], rows, every))
        return linear(h, self.out_w[:, :width], every, rows) + self.out_bias

    def grow(self, stage: int, generator: torch.Generator) -> None:
        """Initialise stage `stage`'s units: every hidden layer's new rows (the new->new block
        of a later stage starting at zero, so new units begin as functions of frozen ones),
        then the output layer's new columns."""
        c = self.config
        lo, hi = self.span(stage)
        fdim = c.in_dims[stage - 1]
        with torch.no_grad():
            for i, weight in enumerate(self.weights):
                if i == 0:
                    bound = 1.0 / fdim if c.activation == "sine" else math.sqrt(6.0 / (fdim + hi))
                    uniform_(weight[lo:hi, :fdim], bound, generator)
                else:
                    weight[lo:hi].zero_()
                    bound = math.sqrt(6.0 / hi) / c.omega if c.activation == "sine" else math.sqrt(6.0 / (2 * hi))
                    uniform_(weight[lo:hi, : (hi if stage == 1 else lo)], bound, generator)
                if c.bias:
                    uniform_(self.biases[i][lo:hi], 1.0 / math.sqrt(fdim if i == 0 else hi), generator)
            if c.activation == "sine":
                uniform_(self.out_w[:, lo:hi], math.sqrt(6.0 / hi) / c.omega, generator)
                if stage == 1:
                    uniform_(self.out_bias, 1.0 / math.sqrt(hi), generator)
            else:
                bound = math.sqrt(6.0 / (hi + c.out_dim))
                uniform_(self.out_w[:, lo:hi], bound if stage == 1 else 0.1 * bound, generator)

    def set_output_bias(self, values: torch.Tensor) -> None:
        with torch.no_grad():
            self.out_bias.copy_(values)

    def trainable_parameters(self, stage: int) -> list[nn.Parameter]:
        return [*self.weights, *self.biases, self.out_w] + ([self.out_bias] if stage == 1 else [])

    def mask_gradients(self, stage: int) -> None:
        lo, hi = self.span(stage)
        with torch.no_grad():
            for i, weight in enumerate(self.weights):
                for p in (weight, *(self.biases[i : i + 1])):
                    if p.grad is not None:
                        p.grad[:lo].zero_()
                        p.grad[hi:].zero_()
                if weight.grad is not None:
                    weight.grad[:, self._columns(i, stage) :].zero_()
            if self.out_w.grad is not None:
                self.out_w.grad[:, :lo].zero_()
                self.out_w.grad[:, hi:].zero_()
            if stage > 1 and self.out_bias.grad is not None:
                self.out_bias.grad.zero_()

    def stage_views(self, stage: int) -> dict[str, torch.Tensor]:
        """Stage `stage`'s entries as named views, in chunk order: each hidden layer's weight
        (and bias), the output weight, and the output bias (stage 1)."""
        lo, hi = self.span(stage)
        views = {}
        for i, (name, weight) in enumerate(zip(self.config.names(), self.weights)):
            views[f"{name}.w"] = weight[lo:hi, : self._columns(i, stage)]
            if self.config.bias:
                views[f"{name}.b"] = self.biases[i][lo:hi]
        views["out.w"] = self.out_w[:, lo:hi]
        if stage == 1:
            views["out.b" if self.config.bias else "out.offset"] = self.out_bias
        return views


def linear(h: torch.Tensor, w: torch.Tensor, rows: tuple[int, int] | None = None,
           cols: tuple[int, int] | None = None) -> torch.Tensor:
    """h @ w.T, as `nn.functional.linear` computes it (under autocast too), except that a
    training step on the CPU gets its weight gradient from a fixed-order sum over the batch
    (mlp_kernels.weight_grad; a BLAS's order depends on the thread count), and only for
    w[rows, cols] when given (zero elsewhere: entries the caller keeps frozen)."""
    if not (torch.is_grad_enabled() and w.requires_grad and h.device.type == "cpu" and mlp_kernels.AVAILABLE):
        return nn.functional.linear(h, w)
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else w.dtype
    return _FixedOrderLinear.apply(h, w, dtype, rows, cols)


class _FixedOrderLinear(torch.autograd.Function):
    """Linear without bias computed in `dtype` (the autocast's, else the weight's): forward and
    input gradient by torch (each output a sum over at most the layer's width, split across
    threads by rows only), the weight gradient by the fixed-order kernel, in float32."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, w: torch.Tensor, dtype: torch.dtype, rows: tuple[int, int] | None,  # type: ignore[override]
                cols: tuple[int, int] | None) -> torch.Tensor:
        with torch.autocast("cpu", enabled=False):
            h_c, w_c = h.to(dtype), w.to(dtype)
            ctx.save_for_backward(h_c, w_c)
            ctx.h_dtype, ctx.w_dtype, ctx.w_shape = h.dtype, w.dtype, w.shape
            ctx.rows, ctx.cols = rows or (0, w.shape[0]), cols or (0, w.shape[1])
            return nn.functional.linear(h_c, w_c)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        h_c, w_c = ctx.saved_tensors
        grad_h = grad_w = None
        with torch.autocast("cpu", enabled=False):
            g = grad.to(w_c.dtype).contiguous()
            if ctx.needs_input_grad[0]:
                grad_h = (g @ w_c).to(ctx.h_dtype)
            if ctx.needs_input_grad[1]:
                block = mlp_kernels.weight_grad(_kernel_view(g), _kernel_view(h_c.contiguous()), ctx.rows, ctx.cols)
                if block.shape == tuple(ctx.w_shape):
                    grad_w = torch.from_numpy(block).to(ctx.w_dtype)
                else:
                    grad_w = torch.zeros(ctx.w_shape, dtype=ctx.w_dtype)
                    grad_w[ctx.rows[0] : ctx.rows[1], ctx.cols[0] : ctx.cols[1]] = torch.from_numpy(block)
        return grad_h, grad_w, None, None, None


def _kernel_view(t: torch.Tensor) -> np.ndarray:
    """A contiguous float32 tensor as numpy, bfloat16 as its int16 bits; other dtypes as float32."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy()
    return t.float().numpy()
