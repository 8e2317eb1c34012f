"""Multiresolution grid layout, exactly as tiny-cuda-nn computes it (no torch).

Level l, axis d: scale_ld = exp2(l * log2(b_d)) * N_min,d - 1 in float32, res_ld =
ceil(scale_ld) + 1 vertices; size_l = min(next_multiple_of_8(prod_d res_ld), 2^T) entries, hashed
iff prod_d res_ld > 2^T; levels stored one after another. Entry e of level l, feature f lives at
(offset_l + e) * F + f of the flat parameter vector. With the same N_min and b on every axis
(tiny-cuda-nn's only case) this is tiny-cuda-nn's layout; an axis may have its own (a clip's
time axis is finest at one vertex per frame, whatever its frame size).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# tiny-cuda-nn's spatial hash primes (dimension d multiplies by PRIMES[d]).
PRIMES = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737)


@dataclass(frozen=True)
class GridConfig:
    in_dim: int = 2
    n_levels: int = 16
    n_features: int = 2
    log2_hashmap_size: int = 19
    base_resolution: int | tuple[int, ...] = 16  # N_min: one for every axis, or one per axis
    per_level_scale: float | tuple[float, ...] = 2.0  # b (stored as float32): likewise

    def __post_init__(self) -> None:
        if not 1 <= self.in_dim <= len(PRIMES):
            raise ValueError(f"in_dim must be 1..{len(PRIMES)}")
        if not (1 <= self.n_levels <= 32 and self.n_features in (1, 2, 4, 8) and 3 <= self.log2_hashmap_size <= 26):
            raise ValueError("grid config out of range (levels 1..32, features 1/2/4/8, T 3..26)")
        for name in ("base_resolution", "per_level_scale"):
            value = getattr(self, name)
            if isinstance(value, (tuple, list)):
                if len(value) != self.in_dim:
                    raise ValueError(f"{name}: one value per axis ({self.in_dim}), got {len(value)}")
                # one value on every axis is the scalar form (one config, one header encoding)
                object.__setattr__(self, name, value[0] if len(set(value)) == 1 else tuple(value))
        for base, b in zip(self.base_resolutions, self.per_level_scales):
            if not (1 <= base <= 1 << 16 and 1.0 <= b <= 16.0):
                raise ValueError("grid config out of range (base resolution, per-level scale)")
            # the finest level's scale must stay a sane float32 (and res^D a sane integer)
            if base * float(b) ** (self.n_levels - 1) > float(1 << 24):
                raise ValueError("grid config out of range: the finest level exceeds 2^24 vertices per axis")

    @property
    def base_resolutions(self) -> tuple[int, ...]:
        value = self.base_resolution
        return tuple(int(v) for v in value) if isinstance(value, tuple) else (int(value),) * self.in_dim

    @property
    def per_level_scales(self) -> tuple[float, ...]:
        value = self.per_level_scale
        return tuple(float(v) for v in value) if isinstance(value, tuple) else (float(value),) * self.in_dim

    @property
    def isotropic(self) -> bool:
        """The same N_min and b on every axis (what tiny-cuda-nn can run)."""
        return not isinstance(self.base_resolution, tuple) and not isinstance(self.per_level_scale, tuple)

    @staticmethod
    def scale_for(n_levels: int, base_resolution: int, max_resolution: float) -> float:
        """b = (N_max / N_min)^(1 / (L - 1)), rounded to float32 (the value files store)."""
        if n_levels == 1:
            return 2.0
        return float(np.float32((max_resolution / base_resolution) ** (1.0 / (n_levels - 1))))


@dataclass(frozen=True)
class GridLayout:
    config: GridConfig
    scales: np.ndarray  # float32 [L, D]
    resolutions: np.ndarray  # int64 [L, D], vertices per axis
    sizes: np.ndarray  # int64 [L], entries per level
    offsets: np.ndarray  # int64 [L + 1], running entry offsets
    hashed: np.ndarray  # bool [L]

    @property
    def n_entries(self) -> int:
        return int(self.offsets[-1])

    @property
    def n_params(self) -> int:
        return self.n_entries * self.config.n_features

    def level_params(self, level: int) -> int:
        return int(self.sizes[level]) * self.config.n_features


def next_multiple(value: int, multiple: int) -> int:
    return (value + multiple - 1) // multiple * multiple


def grid_layout(config: GridConfig) -> GridLayout:
    log2_bs = [np.float32(math.log2(np.float32(b))) for b in config.per_level_scales]
    scales, resolutions, sizes, hashed = [], [], [], []
    max_size = 1 << config.log2_hashmap_size
    for level in range(config.n_levels):
        level_scales = [
            np.float32(np.exp2(np.float32(level) * log2_b) * np.float32(base) - np.float32(1.0))
            for log2_b, base in zip(log2_bs, config.base_resolutions)
        ]
        level_res = [int(math.ceil(float(scale))) + 1 for scale in level_scales]
        dense_size = math.prod(level_res)
        scales.append(level_scales)
        resolutions.append(level_res)
        sizes.append(min(next_multiple(dense_size, 8), max_size))
        hashed.append(dense_size > max_size)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return GridLayout(
        config,
        np.array(scales, dtype=np.float32),
        np.array(resolutions, dtype=np.int64),
        np.array(sizes, dtype=np.int64),
        offsets,
        np.array(hashed, dtype=bool),
    )


def vertex_index(vertices: np.ndarray, level: int, layout: GridLayout) -> np.ndarray:
    """Entry index (within the level) of integer vertices [..., D]: dense x-fastest, or hashed."""
    vertices = vertices.astype(np.uint64)
    size = np.uint64(layout.sizes[level])
    if layout.hashed[level]:
        acc = np.zeros(vertices.shape[:-1], dtype=np.uint64)
        for d in range(vertices.shape[-1]):
            acc ^= (vertices[..., d] * np.uint64(PRIMES[d])) & np.uint64(0xFFFFFFFF)
        return (acc % size).astype(np.int64)
    acc = np.zeros(vertices.shape[:-1], dtype=np.uint64)
    stride = np.uint64(1)
    for d in range(vertices.shape[-1]):
        acc += vertices[..., d] * stride
        stride *= np.uint64(layout.resolutions[level, d])
    return (acc % size).astype(np.int64)


def corner_indices_weights(coords: np.ndarray, level: int, layout: GridLayout) -> tuple[np.ndarray, np.ndarray]:
    """For points in [0, 1]^D: level-local entry index and interpolation weight of each of the
    2^D corners, [N, 2^D] int64 and float32. Position p = fma(scale, x, 0.5) in float32 (the
    product of two float32 is exact in float64, so one rounding gives the fused result)."""
    dim = coords.shape[-1]
    pos = (layout.scales[level].astype(np.float64) * coords.astype(np.float64) + 0.5).astype(np.float32)
    grid = np.floor(pos)
    frac = pos - grid
    grid = grid.astype(np.int64)
    n_corners = 1 << dim
    idx = np.empty(coords.shape[:-1] + (n_corners,), dtype=np.int64)
    weights = np.empty(coords.shape[:-1] + (n_corners,), dtype=np.float32)
    for corner in range(n_corners):
        vertex = grid.copy()
        weight = np.ones(coords.shape[:-1], dtype=np.float32)
        for d in range(dim):
            if corner >> d & 1:
                vertex[..., d] += 1
                weight *= frac[..., d]
            else:
                weight *= np.float32(1.0) - frac[..., d]
        idx[..., corner] = vertex_index(vertex, level, layout)
        weights[..., corner] = weight
    return idx, weights
