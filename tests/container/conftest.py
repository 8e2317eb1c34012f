"""Fixtures for the container tests; the helpers behind them are in nff_support.py."""
from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from nff_support import VECTORS, load_make_vectors, make_file


@pytest.fixture(scope="session")
def mv() -> ModuleType:
    """The conformance-vector generator, whose builders also make the invalid test files."""
    return load_make_vectors()


@pytest.fixture(scope="session")
def manifest() -> dict[str, Any]:
    return json.loads((VECTORS / "vectors.json").read_text())


@pytest.fixture(scope="session")
def small_file() -> bytes:
    return make_file()


@pytest.fixture(scope="session")
def small_file_none() -> bytes:
    return make_file("none")
