"""The NXFM chunk (formats/annex-transforms.md T.6): placement, bounded decompression, prefixes, the spec."""
from __future__ import annotations

import re

import numpy as np
import pytest

from nfcodec import container
from nfcodec.container import limits
from nfcodec.container.chunks import KNOWN_CRITICAL_TYPES
from nfcodec.errors import InvalidHeader, InvalidPayload, NffError, TruncatedFile

from nff_support import SPEC

PERM = np.array([3, 0, 2, 1], "<u4").tobytes()


def make(data_bytes: int = len(PERM), raw: bytes = PERM, compression: str = "zstd") -> bytes:
    stages = [container.encode_stage(container.StageData(w, [("a", np.full(w, 0.5), "f32")]), compression) for w in (1, 2)]
    return container.assemble(
        modality="test", signal={}, transform={"id": 3, "name": "ordered", "params": {"data_bytes": data_bytes}},
        field_info={"arch": "test", "config": {}}, stages=stages, compression=compression,
        extra_chunks=[("teXt", b"note"), container.transform_data_chunk(raw)],
    )


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_transform_data_round_trip(compression):
    data = make(compression=compression)
    nff = container.read(data, strict=True)
    assert nff.transform_data() == PERM
    assert nff.transform_data(max_bytes=len(PERM)) == PERM
    assert nff.header.transform_data_bytes == len(PERM)
    assert [c.type for c in nff.header.chunks] == ["teXt", "NXFM", "NSTG", "NSTG", "NEND"]


def test_every_stage_prefix_holds_the_transform_data():
    data = make()
    header = container.read_header(data)
    for k in (1, 2):
        prefix = container.read(data[: header.prefix_bytes(k)])
        assert prefix.stages_available == k and prefix.transform_data() == PERM
    partial = container.read(data[: header.transform_data.end - 1])
    assert partial.stages_available == 0
    with pytest.raises(TruncatedFile):
        partial.transform_data()


def test_files_without_transform_data():
    nff = container.read(container.assemble(
        modality="test", signal={}, transform={"id": 0, "name": "identity"}, field_info={"arch": "test", "config": {}},
        stages=[container.encode_stage(container.StageData(1, []))],
    ))
    assert nff.transform_data() is None and nff.header.transform_data is None


def test_a_caller_bound_refuses_before_decompressing():
    data = make()
    with pytest.raises(InvalidHeader):
        container.read(data).transform_data(max_bytes=len(PERM) - 1)


def test_the_writer_cannot_emit_a_size_that_lies():
    with pytest.raises(InvalidPayload):
        make(data_bytes=len(PERM) + 4)
    with pytest.raises(NffError):
        make(data_bytes=limits.MAX_TRANSFORM_DATA_BYTES + 1)


def test_spec_lists_every_critical_type_and_the_limit():
    text = SPEC.read_text()
    section = text.split("### 3.2 Critical and ancillary types", 1)[1].split("### 3.3", 1)[0]
    listed = set(re.findall(r"^\| `([A-Z]{4})` \|", section, re.M))
    assert listed == set(KNOWN_CRITICAL_TYPES) == {"NHDR", "NXFM", "NSTG", "NEND"}
    limits_section = text.split("## 8. Limits", 1)[1].split("\n## ", 1)[0]
    assert "| transform data | 2^28 bytes |" in limits_section and limits.MAX_TRANSFORM_DATA_BYTES == 2**28
