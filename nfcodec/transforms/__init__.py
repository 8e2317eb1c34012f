"""Invertible data transforms applied before fitting (formats/nff.md, "Transforms").

A transform maps normalised signal values to what the field is trained on; the decoder applies
the inverse. Each has a stable id (registry.TRANSFORMS) and stores its inverse parameters in the
header. This version ships the identity; the transform library and search build on this contract.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True)
class Identity:
    id: int = 0
    name: str = "identity"
    preserves_interpolation: bool = True

    def params(self) -> dict[str, Any]:
        return {}

    def forward(self, values: np.ndarray) -> np.ndarray:
        return values

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "params": self.params()}


def transform_from_header(raw: Mapping[str, Any]) -> Identity:
    from ..errors import UnknownCodecId
    from ..registry import TRANSFORMS

    entry = TRANSFORMS.by_id(int(raw["id"]))
    if entry.name != raw.get("name"):
        raise UnknownCodecId(f"transform id {entry.id} is {entry.name!r}, the file says {raw.get('name')!r}")
    return entry.load()()
