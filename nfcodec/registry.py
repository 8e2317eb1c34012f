"""Name tables with stable numeric ids and lazily imported targets.

Ids are written into files: an id is assigned by hand, never reused and never derived from
order. `tests/test_registry.py` pins every table to a committed golden file.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Generic, Iterator, TypeVar

from .errors import UnknownCodecId

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    id: int
    name: str
    target: str  # "package.module:attribute", imported on first use
    summary: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        module_name, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module_name), attribute)


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._by_name: dict[str, Entry] = {}
        self._by_id: dict[int, Entry] = {}

    def register(self, entry: Entry) -> Entry:
        if entry.name in self._by_name:
            raise ValueError(f"{self.kind} name {entry.name!r} registered twice")
        if entry.id in self._by_id:
            raise ValueError(f"{self.kind} id {entry.id} registered twice")
        self._by_name[entry.name] = entry
        self._by_id[entry.id] = entry
        return entry

    def by_name(self, name: str) -> Entry:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name))
            raise UnknownCodecId(f"unknown {self.kind} {name!r} (known: {known})") from None

    def by_id(self, id_: int) -> Entry:
        try:
            return self._by_id[id_]
        except KeyError:
            raise UnknownCodecId(f"unknown {self.kind} id {id_}") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._by_id.values(), key=lambda e: e.id))

    def table(self) -> dict[str, int]:
        return {e.name: e.id for e in self}


FIELDS: Registry[Any] = Registry("field architecture")
FIELDS.register(Entry(1, "siren", "nfcodec.fields.siren:ProgressiveSiren", "progressive SIREN (Cho et al. 2022)"))
FIELDS.register(Entry(2, "grid", "nfcodec.fields.grid:ProgressiveGrid", "progressive multiresolution hash grid + ReLU MLP (Instant-NGP layout)"))

MODALITIES: Registry[Any] = Registry("modality")
MODALITIES.register(Entry(1, "image", "nfcodec.modalities.image:IMAGE", "2-D image, grey / RGB, with optional alpha"))
MODALITIES.register(Entry(2, "video", "nfcodec.modalities.video:VIDEO", "8-bit RGB clip over (t, y, x)"))
MODALITIES.register(Entry(3, "shape", "nfcodec.modalities.shape:SHAPE", "triangle mesh as a signed distance field over (x, y, z)"))

TRANSFORMS: Registry[Any] = Registry("transform")
TRANSFORMS.register(Entry(0, "identity", "nfcodec.transforms.values:Identity", "values unchanged"))
TRANSFORMS.register(Entry(1, "invert", "nfcodec.transforms.values:Invert", "colour inversion 1 - z"))
TRANSFORMS.register(Entry(2, "rpp", "nfcodec.transforms.permutations:RandomPermutation", "random pixel permutation from a 32-bit seed"))
TRANSFORMS.register(Entry(3, "ordered", "nfcodec.transforms.permutations:OrderedPermutation", "pixels sorted by intensity along J-shaped shells (stored permutation)"))
TRANSFORMS.register(Entry(4, "affine", "nfcodec.transforms.values:Affine", "a z + b"))
TRANSFORMS.register(Entry(5, "gamma", "nfcodec.transforms.values:Gamma", "z^(1/g), inverse max(y, 0)^g"))
TRANSFORMS.register(Entry(6, "standardise", "nfcodec.transforms.values:Standardise", "(z - mean) / std per channel"))
