"""Assemble a `.nff` file. The result is re-read with the strict reader before it is returned,
so the writer cannot produce a file the reader refuses."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .chunks import CHUNK_OVERHEAD, END_TYPE, HEADER_TYPE, SIGNATURE, STAGE_TYPE, TRANSFORM_DATA_TYPE, frame_chunk, is_critical
from .header import CODED_DTYPES, CODED_FORMAT_VERSION, FORMAT_VERSION, TensorSpec, pack_header
from .reader import NffFile, read
from .tensors import compress, named, pack_stage, quantise


@dataclass
class StageData:
    """The parameters one stage adds, as named float arrays with a storage dtype each."""

    width: int
    tensors: list[tuple[str, np.ndarray, str]] = field(default_factory=list)  # (name, values, dtype)
    extent: tuple[tuple[int, int], ...] | None = None  # the lattice part it decodes (None: all)


@dataclass
class EncodedStage:
    width: int
    specs: list[TensorSpec]
    payload: bytes  # chunk data (compressed)
    decoded: dict[str, np.ndarray]  # what a decoder reconstructs
    extent: tuple[tuple[int, int], ...] | None = None


def encode_stage(stage: StageData, compression: str = "zstd", steps: Mapping[str, float | None] | None = None) -> EncodedStage:
    """Quantise and compress one stage. `steps` optionally gives q8/q16 tensors their quantiser
    step (default: peak / largest code, which never clips)."""
    specs, raws, decoded = [], [], {}
    for name, values, dtype in stage.tensors:
        spec, raw, back = quantise(values, dtype, (steps or {}).get(name))
        specs.append(named(spec, name))
        raws.append(raw)
        decoded[name] = back
    return EncodedStage(stage.width, specs, pack_stage(raws, compression), decoded, stage.extent)


def bytes_before_stages(stage_shapes: Sequence[Mapping[str, tuple[int, ...]]], extra_chunks: Sequence[tuple[str, bytes]] = (),
                        **header: Any) -> int:
    """The bytes a file will spend outside its stage chunks (signature, framed header, framed
    extra chunks, NEND) when stage k holds `qe` tensors of `stage_shapes[k]`: the header packed
    with placeholder steps and lengths of the largest encoding, so the estimate errs high by a
    few bytes per tensor at most. Rate control charges it to the first stage (each stage chunk's
    own framing to its stage)."""
    stages = [{"width": k + 1, "tensors": [{"name": n, "shape": list(shape), "dtype": "qe", "step": 0.1, "bytes": 1 << 20}
                                            for n, shape in shapes.items()]} for k, shapes in enumerate(stage_shapes)]
    chunks = len(extra_chunks) + len(stage_shapes) + 1
    packed = pack_header({"version": list(CODED_FORMAT_VERSION), **header, "stages": stages, "index": [["NSTG", 1 << 20, 1 << 20]] * chunks})
    framed_extra = sum(CHUNK_OVERHEAD + len(data) for _, data in extra_chunks)
    return len(SIGNATURE) + CHUNK_OVERHEAD + len(packed) + framed_extra + CHUNK_OVERHEAD  # NHDR, extra chunks, NEND


def transform_data_chunk(raw: bytes) -> tuple[str, bytes]:
    """The NXFM chunk holding `raw` inverse-transform data (one zstd frame, whatever the header's
    `compression`), for `assemble(extra_chunks=...)`; the header's transform params must state
    `data_bytes = len(raw)`."""
    return TRANSFORM_DATA_TYPE, compress(raw)


def assemble(
    *,
    modality: str,
    signal: Mapping[str, Any],
    transform: Mapping[str, Any],
    field_info: Mapping[str, Any],
    stages: Sequence[EncodedStage],
    extra_chunks: Sequence[tuple[str, bytes]] = (),
    compression: str = "zstd",
    encoder: Mapping[str, Any] | None = None,
    trailing_chunks: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    """Build the complete file: signature, NHDR, extra chunks, one NSTG per stage, trailing
    chunks, NEND.

    Extra chunks (critical ones the decoder needs before any stage, such as transform data)
    go before the first stage so that any stage prefix includes them. Trailing chunks must be
    ancillary (information no decoder needs, such as the encoder's search table): after the
    stages, a streaming client never downloads them.
    """
    for chunk_type, _ in list(extra_chunks) + list(trailing_chunks):
        if chunk_type in (HEADER_TYPE, STAGE_TYPE, END_TYPE):
            raise ValueError(f"{chunk_type} is written by the container itself")
    for chunk_type, _ in trailing_chunks:
        if is_critical(chunk_type):
            raise ValueError(f"trailing chunk {chunk_type} must be ancillary")
    body_chunks = (
        list(extra_chunks) + [(STAGE_TYPE, s.payload) for s in stages] + list(trailing_chunks) + [(END_TYPE, b"")]
    )
    index, offset = [], 0
    for chunk_type, data in body_chunks:
        index.append([chunk_type, offset, len(data)])
        offset += CHUNK_OVERHEAD + len(data)
    header = {
        "version": list(CODED_FORMAT_VERSION if any(t.dtype in CODED_DTYPES for s in stages for t in s.specs) else FORMAT_VERSION),
        "modality": modality,
        "signal": dict(signal),
        "transform": dict(transform),
        "field": dict(field_info),
        "compression": compression,
        "stages": [_stage_entry(s) for s in stages],
        "index": index,
        "encoder": dict(encoder or {}),
    }
    out = bytearray(SIGNATURE)
    out += frame_chunk(HEADER_TYPE, pack_header(header))
    for chunk_type, data in body_chunks:
        out += frame_chunk(chunk_type, data)
    result = bytes(out)
    checked: NffFile = read(result, strict=True)
    for k in range(1, checked.stages_available + 1):
        checked.stage_tensors(k)
    checked.transform_data()
    return result


__all__ = ["StageData", "EncodedStage", "bytes_before_stages", "encode_stage", "assemble", "transform_data_chunk", "is_critical"]


def _stage_entry(stage: EncodedStage) -> dict[str, Any]:
    entry: dict[str, Any] = {"width": stage.width, "tensors": [t.to_raw() for t in stage.specs]}
    if stage.extent is not None:
        entry["extent"] = [list(pair) for pair in stage.extent]
    return entry
