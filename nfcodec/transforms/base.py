"""The contract every data transform implements, and strict readers for hostile parameters.

A transform maps the normalised signal (float32 values [*positions, C], positions flattened in
C order) to what the field is trained on; the decoder applies the inverse to the field's output.
A transform is either *pointwise* (changes values, never moves them: `moves_positions` False)
or *positional* (moves whole samples, never changes them: True). Decoders rely on this split:
a pointwise inverse can run block by block, a positional one needs the whole signal.
"""
from __future__ import annotations

import math
import struct
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidHeader


@runtime_checkable
class Transform(Protocol):
    """An invertible data transform (formats/annex-transforms.md)."""

    id: ClassVar[int]  # registry id, written into files
    name: ClassVar[str]  # registry name, written into files
    preserves_interpolation: ClassVar[bool]  # may the field be decoded at another resolution?
    moves_positions: ClassVar[bool]  # positional (a permutation) rather than pointwise

    def params(self) -> dict[str, Any]:
        """msgpack-able parameters of the inverse, for `transform.params`."""
        ...

    def data(self) -> bytes | None:
        """Bulky inverse data for the NXFM chunk (uncompressed), or None."""
        ...

    def forward(self, values: np.ndarray) -> np.ndarray:
        ...

    def inverse(self, values: np.ndarray) -> np.ndarray:
        ...

    def forward_positions(self, idx: np.ndarray) -> np.ndarray:
        """Where original flat position i sits in the trained signal."""
        ...

    def inverse_positions(self, idx: np.ndarray) -> np.ndarray:
        """Which original flat position the trained position p holds."""
        ...

    def mse_factor(self) -> float | None:
        """k with mse_original = k * mse_trained exactly (before the decoder's clipping and
        rounding), or None where no such constant exists (e.g. gamma)."""
        ...

    def describe(self) -> dict[str, Any]:
        ...


def describe_transform(transform: Transform) -> dict[str, Any]:
    """The header's `transform` map: {id, name, params}."""
    return {"id": transform.id, "name": transform.name, "params": transform.params()}


def psnr_to_original(transform: Transform, psnr_trained: float) -> float | None:
    """A PSNR measured on the trained (transformed) signal, expressed on the original one
    where that conversion is exact; None otherwise (measure on the original instead)."""
    factor = transform.mse_factor()
    if factor is None:
        return None
    return psnr_trained - 10.0 * math.log10(factor)


def flat(values: np.ndarray) -> np.ndarray:
    """[*positions, C] -> [N, C] (a view where possible)."""
    if values.ndim < 2:
        raise ValueError(f"values must have shape [*positions, C], got {values.shape}")
    return values.reshape(-1, values.shape[-1])


class Pointwise:
    """Shared members of pointwise (value) transforms: positions never move, so decoding at
    another resolution stays meaningful, and there is no bulky data."""

    preserves_interpolation: ClassVar[bool] = True
    moves_positions: ClassVar[bool] = False

    def data(self) -> bytes | None:
        return None

    def forward_positions(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(idx)

    def inverse_positions(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(idx)

    def describe(self) -> dict[str, Any]:
        return describe_transform(self)  # type: ignore[arg-type]


# ---- strict readers for transform.params (values from a file are hostile) ----------------


def is_binary32(value: float) -> bool:
    return struct.unpack("<f", struct.pack("<f", value))[0] == value


def param_float(params: Mapping[str, Any], key: str, lo: float, hi: float, where: str) -> float:
    """A float (never an int or bool), finite, exactly a binary32 number, in [lo, hi]: every
    decoder then computes with the same binary32 value."""
    value = params.get(key)
    ok = isinstance(value, float) and math.isfinite(value) and lo <= value <= hi and is_binary32(value)
    if not ok:
        raise InvalidHeader(f"{where}: {key!r} must be a binary32 float in [{lo:g}, {hi:g}]")
    return float(value)


def param_float_list(params: Mapping[str, Any], key: str, length: int, lo: float, hi: float, where: str) -> list[float]:
    value = params.get(key)
    if not isinstance(value, list) or len(value) != length:
        raise InvalidHeader(f"{where}: {key!r} must be a list of {length} floats (one per channel)")
    return [param_float({key: v}, key, lo, hi, where) for v in value]


def param_int(params: Mapping[str, Any], key: str, lo: int, hi: int, where: str) -> int:
    value = params.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise InvalidHeader(f"{where}: {key!r} must be an integer in [{lo}, {hi}]")
    return value


def refuse_data(data: bytes | None, name: str) -> None:
    if data is not None:
        raise InvalidHeader(f"header.transform: {name!r} takes no transform data, but the file has an NXFM chunk")

