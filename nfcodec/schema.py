"""Strict readers for header fields owned by modalities and fields (the container checks the rest).

A value read from a file is only accepted with the exact type the specification names: a bool is
never an integer, a string never a number, a float never an integer.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from .errors import InvalidHeader

MAX_FIELD_PARAMS = 1 << 27  # float32 entries a decoder allocates for one field (512 MiB)


def require_int(raw: Mapping[str, Any], key: str, lo: int, hi: int, where: str) -> int:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise InvalidHeader(f"{where}: '{key}' must be an integer in [{lo}, {hi}]")
    return value


def require_float(raw: Mapping[str, Any], key: str, lo: float, hi: float, where: str) -> float:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
        raise InvalidHeader(f"{where}: '{key}' must be a number in [{lo}, {hi}]")
    return float(value)


def require_int_list(raw: Mapping[str, Any], key: str, length: int, lo: int, hi: int, where: str) -> list[int]:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if not isinstance(value, list) or len(value) != length:
        raise InvalidHeader(f"{where}: '{key}' must be a list of {length} integers")
    return [require_int({key: v}, key, lo, hi, where) for v in value]
