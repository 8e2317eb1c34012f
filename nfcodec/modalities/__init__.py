"""Modalities: one module per kind of signal, each implementing `base.Modality`, found through
the registry (`nfcodec.registry.MODALITIES`). Adding a modality touches its module, the
registry and its spec annex (formats/), nothing else."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..registry import MODALITIES
from .base import Domain, Geometry, Modality, Signal
from .kinds import ENCODABLE, sniff_kind, unsupported_message

__all__ = ["Domain", "Geometry", "Modality", "Signal", "modality", "modality_for_input"]


def modality(name: str) -> Modality:
    """The modality registered as `name` (UnknownCodecId if none is)."""
    return MODALITIES.by_name(name).load()


def modality_for_input(path: str | os.PathLike) -> Modality:
    """The modality whose input `path` looks like, checked enough to fail before any work:
    a missing, empty or unsupported input gets its one-line InputError here."""
    from ..fsutil import input_file

    path = input_file(path)
    if path.stat().st_size == 0:
        raise InputError(f"empty file: {path}")
    for entry in MODALITIES:
        candidate = entry.load()
        if candidate.accepts(path):
            candidate.check_input(path)
            return candidate
    raise InputError(unsupported_message(path, sniff_kind(path)) or f"cannot encode {path}: nfc encodes {ENCODABLE}")
