"""Conversion between a grid field and tiny-cuda-nn's `NetworkWithInputEncoding` parameters.

tiny-cuda-nn's flat vector is [MLP weights..., grid table]: each MLP layer row-major [out, in],
first layer input padded to a multiple of 16 (the encoding pads its output with zeros), output
rows padded to a multiple of 16, widths 16/32/64/128; then the table in grid_layout's order.
Our field adds a per-channel output offset after the network; it is returned separately.
A field whose MLP width is not a tcnn width is padded with zero units, which changes nothing:
a zero unit outputs ReLU(0) = 0 and has zero output weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .field import Field
from .grid_layout import GridConfig

TCNN_WIDTHS = (16, 32, 64, 128)


def _pad16(n: int) -> int:
    return (n + 15) // 16 * 16


@dataclass(frozen=True)
class TcnnModel:
    params: np.ndarray  # float32, tiny-cuda-nn order
    encoding_config: dict[str, Any]
    network_config: dict[str, Any]
    n_input_dims: int
    n_output_dims: int
    output_offset: np.ndarray  # float32 [out_dim], added after the network


def tcnn_width(width: int) -> int:
    for w in TCNN_WIDTHS:
        if width <= w:
            return w
    raise ValueError(f"MLP width {width} exceeds tiny-cuda-nn's largest fully fused width (128)")


def mlp_shapes(n_levels: int, n_features: int, width: int, hidden_layers: int, out_dim: int) -> list[tuple[int, int]]:
    shapes = [(width, _pad16(n_levels * n_features))]
    shapes += [(width, width)] * (hidden_layers - 1)
    shapes.append((_pad16(out_dim), width))
    return shapes


def _parts(field: Field) -> tuple[GridConfig, int, int]:
    """The field's grid config, full MLP width and hidden layers; ValueError if tcnn cannot hold it."""
    g = field.encoding.grid.config
    if field.arch != "grid" or not g.isotropic:
        raise ValueError("tiny-cuda-nn holds grid fields with one resolution for every axis only")
    return g, field.mlp.config.widths[-1], field.mlp.config.layers


def to_tcnn(field: Field) -> TcnnModel:
    """The full-width field as a tiny-cuda-nn parameter vector and configs."""
    g, mlp_width, hidden_layers = _parts(field)
    width = tcnn_width(mlp_width)
    shapes = mlp_shapes(g.n_levels, g.n_features, width, hidden_layers, field.out_dim)
    ours = [w.detach().cpu().numpy() for w in field.mlp.weights] + [field.mlp.out_w.detach().cpu().numpy()]
    blocks = []
    for shape, weight in zip(shapes, ours):
        padded = np.zeros(shape, dtype=np.float32)
        padded[: weight.shape[0], : weight.shape[1]] = weight
        blocks.append(padded.reshape(-1))
    blocks.append(field.encoding.grid.table.detach().cpu().numpy().astype(np.float32))
    return TcnnModel(
        params=np.concatenate(blocks),
        encoding_config={
            "otype": "HashGrid",
            "n_levels": g.n_levels,
            "n_features_per_level": g.n_features,
            "log2_hashmap_size": g.log2_hashmap_size,
            "base_resolution": g.base_resolution,
            "per_level_scale": float(np.float32(g.per_level_scale)),
        },
        network_config={
            "otype": "FullyFusedMLP",
            "activation": "ReLU",
            "output_activation": "None",
            "n_neurons": width,
            "n_hidden_layers": hidden_layers,
        },
        n_input_dims=g.in_dim,
        n_output_dims=field.out_dim,
        output_offset=field.mlp.out_bias.detach().cpu().numpy().astype(np.float32),
    )


def load_tcnn(field: Field, model: TcnnModel) -> None:
    """Set a field's parameters from a tiny-cuda-nn vector (e.g. trained on a GPU with tcnn).

    The vector must describe the same grid and a tcnn width covering the field's MLP width;
    padded rows and columns must be zero (they cannot be represented in the field).
    """
    g, mlp_width, hidden_layers = _parts(field)
    expected_encoding = to_tcnn(field).encoding_config
    if model.encoding_config != expected_encoding or (model.n_input_dims, model.n_output_dims) != (g.in_dim, field.out_dim):
        raise ValueError("tiny-cuda-nn encoding or dimensions do not match the field's grid")
    width = model.network_config["n_neurons"]
    if width < mlp_width or model.network_config["n_hidden_layers"] != hidden_layers:
        raise ValueError("tiny-cuda-nn network does not match the field's MLP")
    shapes = mlp_shapes(g.n_levels, g.n_features, width, hidden_layers, field.out_dim)
    expected = sum(a * b for a, b in shapes) + field.encoding.layout.n_params
    if model.params.size != expected:
        raise ValueError(f"parameter vector has {model.params.size} entries, expected {expected}")
    offset = 0
    targets = list(field.mlp.weights) + [field.mlp.out_w]
    with torch.no_grad():
        for shape, target in zip(shapes, targets):
            block = model.params[offset : offset + shape[0] * shape[1]].reshape(shape)
            offset += shape[0] * shape[1]
            rows, cols = target.shape
            if np.any(block[rows:, :]) or np.any(block[:, cols:]):
                raise ValueError("padded tiny-cuda-nn weights must be zero")
            target.copy_(torch.from_numpy(np.ascontiguousarray(block[:rows, :cols])))
        field.encoding.grid.table.copy_(torch.from_numpy(model.params[offset:].copy()))
        field.mlp.out_bias.copy_(torch.from_numpy(model.output_offset))
