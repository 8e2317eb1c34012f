"""Invertible data transforms applied before fitting (formats/annex-transforms.md).

A transform maps normalised signal values to what the field is trained on; the decoder applies
the inverse. Each has a stable id (registry.TRANSFORMS) and stores its inverse parameters in the
header (bulky ones, such as a stored permutation, in the NXFM chunk).

    fit_transform(preset_name, values, seed)                  encoder: build / fit a preset
    transform_from_header(raw, data, n_positions, channels)   decoder: validate and rebuild
    preset_names(), parse_transform_option(text)              the CLI's names

Modules: base (the protocol, hostile-parameter readers), values (pointwise), permutations
(positional, with the specified random permutation and J-shell order), catalogue (presets).
"""
from __future__ import annotations

from .base import Transform, describe_transform, psnr_to_original
from .catalogue import PRESETS, Preset, fit_transform, parse_transform_option, preset_names, resolve_preset, transform_from_header
from .permutations import OrderedPermutation, RandomPermutation, j_shell_path, ordered_permutation, rpp_keys, rpp_permutation, splitmix64
from .values import Affine, Gamma, Identity, Invert, Standardise

__all__ = [
    "Transform",
    "describe_transform",
    "psnr_to_original",
    "PRESETS",
    "Preset",
    "fit_transform",
    "parse_transform_option",
    "preset_names",
    "resolve_preset",
    "transform_from_header",
    "OrderedPermutation",
    "RandomPermutation",
    "j_shell_path",
    "ordered_permutation",
    "rpp_keys",
    "rpp_permutation",
    "splitmix64",
    "Affine",
    "Gamma",
    "Identity",
    "Invert",
    "Standardise",
]
