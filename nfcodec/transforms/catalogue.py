"""Named transform presets for the encoder, and rebuilding a transform from a file's header.

A preset name (what `nfc encode --transform` takes) picks a registered transform and, for the
parameterised ones, its parameters: "halve" is the affine map z / 2. Data-dependent presets
(standardise, ordered) compute their parameters from the signal in `fit_transform`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import InvalidHeader, UnknownCodecId, UsageError
from ..registry import TRANSFORMS
from .base import Transform
from .permutations import MAX_POSITIONS, MAX_SEED, OrderedPermutation, RandomPermutation
from .values import Affine, Gamma, Identity, Invert, Standardise

MAX_SIGNAL_POSITIONS = 1 << 40  # positions of any signal (a 1080p clip of 600 frames has 2^30)
MAX_CHANNELS = 16  # a field's largest out_dim (formats/annex-field-siren.md, annex-field-grid.md)


@dataclass(frozen=True)
class Preset:
    name: str
    transform: str  # registry name
    summary: str
    build: Callable[[np.ndarray, int], Transform]  # (values [*positions, C], seed) -> transform


def _positions(values: np.ndarray) -> int:
    return int(np.prod(values.shape[:-1]))


_PRESETS = (
    Preset("identity", "identity", "values unchanged", lambda v, s: Identity()),
    Preset("invert", "invert", "colour inversion 1 - z", lambda v, s: Invert()),
    Preset("rpp", "rpp", "random pixel permutation from a 32-bit seed (the encoder's seed mod 2^32)",
           lambda v, s: RandomPermutation(s & MAX_SEED, _positions(v))),
    Preset("ordered", "ordered", "pixels sorted by intensity along J-shaped shells (the permutation is stored)",
           lambda v, s: OrderedPermutation.fit(v)),
    Preset("halve", "affine", "z / 2", lambda v, s: Affine(0.5, 0.0)),
    Preset("signed", "affine", "2 z - 1 (values in [-1, 1])", lambda v, s: Affine(2.0, -1.0)),
    Preset("centre", "affine", "z - 0.5", lambda v, s: Affine(1.0, -0.5)),
    Preset("gamma0.25", "gamma", "z^4 (darker; inverse y^0.25)", lambda v, s: Gamma(0.25)),
    Preset("gamma0.5", "gamma", "z^2 (inverse y^0.5)", lambda v, s: Gamma(0.5)),
    Preset("gamma1.5", "gamma", "z^(2/3) (brighter; inverse y^1.5)", lambda v, s: Gamma(1.5)),
    Preset("gamma2", "gamma", "z^0.5 (brighter; inverse y^2)", lambda v, s: Gamma(2.0)),
    Preset("standardise", "standardise", "(z - mean) / std per channel", lambda v, s: Standardise.fit(v)),
)
PRESETS: dict[str, Preset] = {p.name: p for p in _PRESETS}
NONE_ALIAS = "none"  # the CLI's word for "no transform"


def preset_names() -> list[str]:
    """Every preset name, in catalogue order (identity first)."""
    return list(PRESETS)


def resolve_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        known = ", ".join([NONE_ALIAS, *PRESETS])
        raise UsageError(f"unknown transform {name!r} (known: {known})") from None


def parse_transform_option(text: str) -> str:
    """The preset an `--transform` value names ("none" is the identity); UsageError otherwise."""
    name = text.strip()
    return "identity" if name == NONE_ALIAS else resolve_preset(name).name


def fit_transform(name: str, values: np.ndarray, seed: int) -> Transform:
    """The transform preset `name` for a signal of values [*positions, C] (an image: [H, W, C],
    normalised to [0, 1]); data-dependent presets compute their parameters here."""
    preset = resolve_preset(name)
    values = np.asarray(values, dtype=np.float32)
    if values.ndim < 2 or values.shape[-1] < 1 or _positions(values) < 1:
        raise ValueError(f"values must have shape [*positions, C], got {values.shape}")
    return preset.build(values, seed)


def transform_from_header(
    raw: Mapping[str, Any],
    data: bytes | None,
    n_positions: int,
    channels: int,
    admitted: frozenset[str] | None = None,
) -> Transform:
    """Rebuild the transform a file's header names, validating its (hostile) parameters.

    `data` is the decompressed NXFM chunk (or None); `n_positions` and `channels` come from the
    already validated signal description. Raises UnknownCodecId for an unknown id, a name that
    does not match it or a transform the modality does not allow, InvalidHeader for bad
    parameters and InvalidPayload for bad transform data."""
    if not isinstance(raw, Mapping):
        raise InvalidHeader("header.transform must be a map")
    id_ = raw.get("id")
    if not isinstance(id_, int) or isinstance(id_, bool):
        raise InvalidHeader("header.transform: 'id' must be an integer")
    entry = TRANSFORMS.by_id(id_)
    if raw.get("name") != entry.name:
        raise UnknownCodecId(f"transform id {entry.id} is {entry.name!r}, the file says {raw.get('name')!r}")
    params = raw.get("params", {})
    if not isinstance(params, Mapping):
        raise InvalidHeader("header.transform: 'params' must be a map")
    if not 1 <= n_positions <= MAX_SIGNAL_POSITIONS or not 1 <= channels <= MAX_CHANNELS:
        raise InvalidHeader(f"header.signal: {n_positions} positions x {channels} channels is out of range")
    cls = entry.load()
    if cls.moves_positions and n_positions > MAX_POSITIONS:
        raise InvalidHeader(f"header.transform: {entry.name!r} permutes at most 2^26 positions, the signal has {n_positions}")
    if admitted is not None and entry.name not in admitted:
        raise UnknownCodecId(f"transform {entry.name!r} does not apply to this file's modality")
    transform: Transform = cls.from_params(params, data, n_positions, channels)
    return transform
