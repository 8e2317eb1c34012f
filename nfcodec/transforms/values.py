"""Pointwise value transforms: identity, inversion, affine, gamma, standardisation.

All arithmetic is binary32 on values of shape [*positions, C]; the parameters are binary32
numbers, so every decoder computes the same inverse (formats/annex-transforms.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from ..errors import InvalidHeader
from .base import Pointwise, is_binary32, param_float, param_float_list, refuse_data

WHERE = "header.transform.params"

# Parameter ranges a decoder accepts. Wide enough for every sensible preset, narrow enough
# that no stored parameter can turn finite field outputs into infinities or NaNs.
MAX_AFFINE_SCALE = 256.0
MIN_AFFINE_SCALE = 2.0**-8
MAX_AFFINE_OFFSET = 16.0
MIN_GAMMA, MAX_GAMMA = 0.125, 8.0  # beyond these, z^(1/g) underflows the darkest 16-bit samples
MIN_STD, MAX_STD = 2.0**-10, 1.0  # standard deviations of values in [0, 1]; flat channels use 1


def _f32(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _check_binary32(**named: float) -> None:
    for key, value in named.items():
        if not (isinstance(value, float) and np.isfinite(value) and is_binary32(value)):
            raise ValueError(f"{key} must be a finite binary32 float, got {value!r}")


@dataclass(frozen=True)
class Identity(Pointwise):
    id: ClassVar[int] = 0
    name: ClassVar[str] = "identity"

    def params(self) -> dict[str, Any]:
        return {}

    def forward(self, values: np.ndarray) -> np.ndarray:
        return _f32(values)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return _f32(values)

    def mse_factor(self) -> float | None:
        return 1.0

    @classmethod
    def from_params(cls, params: Mapping[str, Any], data: bytes | None, n_positions: int, channels: int) -> "Identity":
        refuse_data(data, cls.name)
        return cls()


@dataclass(frozen=True)
class Invert(Pointwise):
    """Colour inversion y = 1 - z."""

    id: ClassVar[int] = 1
    name: ClassVar[str] = "invert"

    def params(self) -> dict[str, Any]:
        return {}

    def forward(self, values: np.ndarray) -> np.ndarray:
        return np.float32(1.0) - _f32(values)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return np.float32(1.0) - _f32(values)

    def mse_factor(self) -> float | None:
        return 1.0

    @classmethod
    def from_params(cls, params: Mapping[str, Any], data: bytes | None, n_positions: int, channels: int) -> "Invert":
        refuse_data(data, cls.name)
        return cls()


@dataclass(frozen=True)
class Affine(Pointwise):
    """y = scale * z + offset; inverse z = (y - offset) / scale."""

    scale: float
    offset: float
    id: ClassVar[int] = 4
    name: ClassVar[str] = "affine"

    def __post_init__(self) -> None:
        _check_binary32(scale=self.scale, offset=self.offset)
        if not MIN_AFFINE_SCALE <= abs(self.scale) <= MAX_AFFINE_SCALE or abs(self.offset) > MAX_AFFINE_OFFSET:
            raise ValueError(f"affine scale {self.scale} / offset {self.offset} out of range")

    def params(self) -> dict[str, Any]:
        return {"scale": self.scale, "offset": self.offset}

    def forward(self, values: np.ndarray) -> np.ndarray:
        return _f32(values) * np.float32(self.scale) + np.float32(self.offset)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return (_f32(values) - np.float32(self.offset)) / np.float32(self.scale)

    def mse_factor(self) -> float | None:
        return 1.0 / (self.scale * self.scale)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], data: bytes | None, n_positions: int, channels: int) -> "Affine":
        refuse_data(data, cls.name)
        scale = param_float(params, "scale", -MAX_AFFINE_SCALE, MAX_AFFINE_SCALE, WHERE)
        if abs(scale) < MIN_AFFINE_SCALE:
            raise InvalidHeader(f"{WHERE}: 'scale' must have a magnitude in [2^-8, 256]")
        offset = param_float(params, "offset", -MAX_AFFINE_OFFSET, MAX_AFFINE_OFFSET, WHERE)
        return cls(scale, offset)


@dataclass(frozen=True)
class Gamma(Pointwise):
    """y = z^(1/gamma) on z in [0, 1]; inverse z = max(y, 0)^gamma (a field may overshoot
    below 0, where a fractional power is undefined)."""

    gamma: float
    id: ClassVar[int] = 5
    name: ClassVar[str] = "gamma"

    def __post_init__(self) -> None:
        _check_binary32(gamma=self.gamma)
        if not MIN_GAMMA <= self.gamma <= MAX_GAMMA:
            raise ValueError(f"gamma {self.gamma} outside [{MIN_GAMMA}, {MAX_GAMMA}]")

    def params(self) -> dict[str, Any]:
        return {"gamma": self.gamma}

    def forward(self, values: np.ndarray) -> np.ndarray:
        return np.power(np.maximum(_f32(values), np.float32(0.0)), np.float32(1.0 / self.gamma))

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return np.power(np.maximum(_f32(values), np.float32(0.0)), np.float32(self.gamma))

    def mse_factor(self) -> float | None:
        return None  # the error scales with the local slope, which varies with the value

    @classmethod
    def from_params(cls, params: Mapping[str, Any], data: bytes | None, n_positions: int, channels: int) -> "Gamma":
        refuse_data(data, cls.name)
        return cls(param_float(params, "gamma", MIN_GAMMA, MAX_GAMMA, WHERE))


@dataclass(frozen=True)
class Standardise(Pointwise):
    """y_c = (z_c - mean_c) / std_c per channel; inverse z_c = y_c * std_c + mean_c."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    id: ClassVar[int] = 6
    name: ClassVar[str] = "standardise"

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std) or not self.mean:
            raise ValueError("standardise needs one mean and one std per channel")
        for m, s in zip(self.mean, self.std):
            _check_binary32(mean=m, std=s)
            if not (0.0 <= m <= 1.0 and MIN_STD <= s <= MAX_STD):
                raise ValueError(f"standardise mean {m} / std {s} out of range")

    @classmethod
    def fit(cls, values: np.ndarray) -> "Standardise":
        """Per-channel mean and population std (float64, stored as binary32); a channel with
        (almost) no spread keeps std 1, so the forward map never divides by ~0."""
        channels = values.reshape(-1, values.shape[-1]).astype(np.float64)
        mean = [float(np.float32(m)) for m in channels.mean(axis=0)]
        std = [float(np.float32(s)) if s >= MIN_STD else 1.0 for s in channels.std(axis=0)]
        return cls(tuple(min(max(m, 0.0), 1.0) for m in mean), tuple(min(s, MAX_STD) for s in std))

    def params(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std)}

    def _check_channels(self, values: np.ndarray) -> np.ndarray:
        values = _f32(values)
        if values.shape[-1] != len(self.mean):
            raise ValueError(f"standardise fitted on {len(self.mean)} channels, got {values.shape[-1]}")
        return values

    def forward(self, values: np.ndarray) -> np.ndarray:
        values = self._check_channels(values)
        return (values - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        values = self._check_channels(values)
        return values * np.asarray(self.std, np.float32) + np.asarray(self.mean, np.float32)

    def mse_factor(self) -> float | None:
        # One factor exists only when every channel is scaled alike.
        return self.std[0] ** 2 if len(set(self.std)) == 1 else None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], data: bytes | None, n_positions: int, channels: int) -> "Standardise":
        refuse_data(data, cls.name)
        mean = param_float_list(params, "mean", channels, 0.0, 1.0, WHERE)
        std = param_float_list(params, "std", channels, MIN_STD, MAX_STD, WHERE)
        return cls(tuple(mean), tuple(std))
