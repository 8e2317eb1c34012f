"""Ids are written into files: this golden file pins them so no change can re-number old files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nfcodec.registry import FIELDS, MODALITIES, TRANSFORMS, Entry, Registry

GOLDEN = Path(__file__).parent / "expected" / "registry_ids.json"


def current() -> dict[str, dict[str, int]]:
    return {"fields": FIELDS.table(), "modalities": MODALITIES.table(), "transforms": TRANSFORMS.table()}


def test_ids_match_the_golden_file():
    if os.environ.get("GENERATE_EXPECTED"):
        GOLDEN.write_text(json.dumps(current(), indent=2, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    for kind, table in golden.items():
        # existing ids never change; new entries must be added to the golden file on purpose
        assert current()[kind] == table, kind


def test_every_target_imports():
    for registry in (FIELDS, MODALITIES, TRANSFORMS):
        for entry in registry:
            assert entry.load() is not None


def test_duplicates_are_refused():
    reg: Registry = Registry("thing")
    reg.register(Entry(1, "a", "x:y"))
    with pytest.raises(ValueError):
        reg.register(Entry(1, "b", "x:y"))
    with pytest.raises(ValueError):
        reg.register(Entry(2, "a", "x:y"))
