"""Modalities: one module per kind of signal, each implementing `base.Modality`, found through
the registry (`nfcodec.registry.MODALITIES`). Adding a modality touches its module, the
registry and its spec annex (formats/), nothing else."""
from __future__ import annotations

import os

from typing import Any, Mapping

from ..errors import InputError, UsageError
from ..registry import MODALITIES
from .base import Domain, Geometry, Modality, Signal
from .kinds import ENCODABLE, sniff_kind, unsupported_message

__all__ = ["Domain", "Geometry", "Modality", "Signal", "check_options", "modality", "modality_for_input"]


def modality(name: str) -> Modality:
    """The modality registered as `name` (UnknownCodecId if none is)."""
    return MODALITIES.by_name(name).load()


def modality_for_input(path: str | os.PathLike, options: Mapping[str, Any] | None = None) -> Modality:
    """The modality whose input `path` looks like, checked enough to fail before any work:
    a missing, empty or unsupported input gets its one-line InputError here, and an option
    the modality does not take (`--frames` for an image) a UsageError."""
    from ..fsutil import input_file

    path = input_file(path)
    if path.stat().st_size == 0:
        raise InputError(f"empty file: {path}")
    for entry in MODALITIES:
        candidate = entry.load()
        if candidate.accepts(path):
            check_options(candidate, options or {}, "read")
            candidate.check_input(path, options or {})
            return candidate
    raise InputError(unsupported_message(path, sniff_kind(path)) or f"cannot encode {path}: nfc encodes {ENCODABLE}")


def check_options(modality: Modality, options: Mapping[str, Any], kind: str) -> None:
    """UsageError for a given option (not None or False) that the modality's read or write
    does not take, e.g. --frames for an image."""
    allowed = modality.read_options if kind == "read" else modality.write_options
    extra = sorted(k for k, v in options.items() if v not in (None, False) and k not in allowed)
    if extra:
        names = ", ".join("--" + k.replace("_", "-") for k in extra)
        raise UsageError(f"{names} does not apply to {modality.name} {'inputs' if kind == 'read' else 'outputs'}")
