"""The writer refuses what the reader refuses, before anything is written."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nfcodec import container
from nfcodec.errors import InvalidHeader, LimitExceeded, NffError, UnknownCriticalChunk


def stage(width: int = 1, *tensors: tuple[str, Any, str], compression: str = "zstd") -> container.EncodedStage:
    tensors = tensors or (("a", np.array([1.0, 2.0]), "f32"),)
    return container.encode_stage(container.StageData(width, list(tensors)), compression)


def write(**overrides: Any) -> bytes:
    args: dict[str, Any] = dict(
        modality="test",
        signal={},
        transform={"id": 0, "name": "identity", "params": {}},
        field_info={"arch": "test", "config": {}},
        stages=[stage()],
    )
    args.update(overrides)
    return container.assemble(**args)


def test_a_valid_file_is_written_and_reads_back_strictly():
    data = write(encoder={"name": "tests"}, extra_chunks=[("teXt", b"hi")])
    nff = container.read(data, strict=True)
    assert nff.complete and nff.header.encoder == {"name": "tests"}
    assert [bytes(b) for b in nff.ancillary("teXt")] == [b"hi"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"modality": ""}, InvalidHeader),
        ({"modality": "m" * 65}, InvalidHeader),
        ({"signal": {"x": float("nan")}}, InvalidHeader),
        ({"signal": {"x": b"bytes"}}, InvalidHeader),
        ({"signal": {"big": "x" * (1 << 20)}}, LimitExceeded),
        ({"transform": {"id": 70000, "name": "identity"}}, InvalidHeader),
        ({"transform": {"id": 0}}, InvalidHeader),
        ({"field_info": {"arch": "test", "id": -1, "config": {}}}, InvalidHeader),
        ({"field_info": {"arch": "test"}}, InvalidHeader),
        ({"compression": "brotli"}, InvalidHeader),
        ({"stages": []}, InvalidHeader),
        ({"stages": [stage(2), stage(2)]}, InvalidHeader),
        ({"stages": [stage(2), stage(1)]}, InvalidHeader),
        ({"stages": [stage(0)]}, InvalidHeader),
        ({"stages": [stage(k) for k in range(1, 66)]}, LimitExceeded),
        ({"stages": [stage(1, ("a", np.zeros(1), "f32"), ("a", np.zeros(1), "f32"))]}, InvalidHeader),
        ({"stages": [stage(1, ("", np.zeros(1), "f32"))]}, InvalidHeader),
        ({"stages": [stage(1, ("a", np.zeros((1,) * 5), "f32"))]}, LimitExceeded),
        ({"stages": [stage(1, *[(f"t{i}", np.zeros(1), "f32") for i in range(65)])]}, LimitExceeded),
        ({"extra_chunks": [("XTRA", b"")]}, UnknownCriticalChunk),
        ({"extra_chunks": [("teXt", b"")] * 255}, LimitExceeded),
        ({"encoder": {"when": float("inf")}}, InvalidHeader),
    ],
)
def test_writer_refuses_what_the_reader_refuses(overrides, error):
    with pytest.raises(error):
        write(**overrides)


def test_writer_refuses_mismatched_compression():
    """Stages coded for one compression, file declared with the other: caught by the re-read."""
    with pytest.raises(NffError):
        write(stages=[stage(compression="none")], compression="zstd")


@pytest.mark.parametrize("chunk_type", ["NHDR", "NSTG", "NEND", "ab", "te t", "tëxt", "12ab"])
def test_writer_refuses_reserved_or_malformed_extra_chunk_types(chunk_type):
    with pytest.raises(ValueError):
        write(extra_chunks=[(chunk_type, b"")])


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (np.array([1.0, np.nan]), "f32"),
        (np.array([np.inf]), "q8"),
        (np.array([1e39]), "f32"),  # overflows binary32
        (np.array([70000.0]), "f16"),  # overflows binary16
        (np.array([1e38]), "q8"),  # needs a step above 2^64
        (np.array([1.0]), "bf16"),
    ],
)
def test_encode_stage_refuses_values_no_file_may_hold(values, dtype):
    with pytest.raises(ValueError):
        stage(1, ("a", values, dtype))


def test_quantise_refuses_a_step_out_of_range():
    from nfcodec.container.tensors import quantise

    for step in (0.0, -1.0, 2.0**-130, 2.0**70):
        with pytest.raises(ValueError):
            quantise(np.ones(2), "q8", step=step)
