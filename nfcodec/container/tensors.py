"""Stage payloads: tensors quantised to f32 / f16 / q8 / q16, concatenated, then zstd-compressed."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import zstandard

from ..errors import InvalidPayload
from .header import TENSOR_DTYPES, StageSpec, TensorSpec

ZSTD_LEVEL = 19


def quantise(values: np.ndarray, dtype: str, step: float | None = None) -> tuple[TensorSpec, bytes, np.ndarray]:
    """Quantise `values` for storage. Returns the spec (name left empty), raw bytes and the
    float32 values a decoder will reconstruct (the encoder snaps its model to these)."""
    values = np.asarray(values, dtype=np.float32)
    np_dtype, _, quantised = TENSOR_DTYPES[dtype]
    if not np.all(np.isfinite(values)):
        raise ValueError("cannot store non-finite parameters")
    if quantised:
        limit = 127 if dtype == "q8" else 32767
        if step is None:
            peak = float(np.max(np.abs(values))) if values.size else 0.0
            step = peak / limit if peak > 0 else 1.0
        step = float(np.float32(step))
        q = np.clip(np.rint(values / np.float32(step)), -limit, limit).astype(np_dtype)
        decoded = q.astype(np.float32) * np.float32(step)
        raw = q.tobytes()
    else:
        step = None
        stored = values.astype(np_dtype)
        decoded = stored.astype(np.float32)
        raw = stored.tobytes()
    return TensorSpec("", tuple(values.shape), dtype, step), raw, decoded


def decode_tensor(spec: TensorSpec, raw: bytes | memoryview) -> np.ndarray:
    np_dtype, _, quantised = TENSOR_DTYPES[spec.dtype]
    values = np.frombuffer(raw, dtype=np_dtype, count=spec.numel).astype(np.float32).reshape(spec.shape)
    if quantised:
        values *= np.float32(spec.step)
    elif not np.all(np.isfinite(values)):
        raise InvalidPayload(f"tensor {spec.name!r} holds non-finite values")
    return values


def pack_stage(raw_tensors: Sequence[bytes], compression: str) -> bytes:
    payload = b"".join(raw_tensors)
    if compression == "none":
        return payload
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True).compress(payload)


def _decompress(stage: StageSpec, data: memoryview) -> bytes:
    expected = stage.raw_bytes  # bounded by the header limits before we get here
    try:
        declared = zstandard.frame_content_size(bytes(data[:32]))
    except zstandard.ZstdError:
        raise InvalidPayload(f"stage {stage.index}: not a zstd frame") from None
    if declared != expected:
        # Refuse before decompressing: the frame must declare exactly what the header implies,
        # which also bounds the decoder's output buffer (no decompression bombs).
        raise InvalidPayload(f"stage {stage.index}: zstd frame declares {declared} bytes, header implies {expected}")
    dobj = zstandard.ZstdDecompressor().decompressobj()
    try:
        out = dobj.decompress(bytes(data))
    except zstandard.ZstdError as exc:
        raise InvalidPayload(f"stage {stage.index}: corrupt zstd data ({exc})") from None
    if not dobj.eof or dobj.unused_data or len(out) != expected:
        raise InvalidPayload(f"stage {stage.index}: zstd data does not hold exactly one frame of {expected} bytes")
    return out


def unpack_stage(stage: StageSpec, data: memoryview, compression: str) -> dict[str, np.ndarray]:
    """Decode one stage chunk's data into float32 arrays keyed by tensor name."""
    payload: bytes | memoryview = data if compression == "none" else _decompress(stage, data)
    if len(payload) != stage.raw_bytes:
        raise InvalidPayload(f"stage {stage.index}: payload of {len(payload)} bytes, tensors need {stage.raw_bytes}")
    out: dict[str, np.ndarray] = {}
    offset = 0
    view = memoryview(payload)
    for spec in stage.tensors:
        out[spec.name] = decode_tensor(spec, view[offset : offset + spec.nbytes])
        offset += spec.nbytes
    return out


def named(spec: TensorSpec, name: str) -> TensorSpec:
    return TensorSpec(name, spec.shape, spec.dtype, spec.step)


def stage_tensor_specs(tensors: Mapping[str, TensorSpec]) -> list[TensorSpec]:
    return [named(spec, name) for name, spec in tensors.items()]
