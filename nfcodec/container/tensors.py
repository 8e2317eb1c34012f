"""Stage payloads: tensors quantised to f32 / f16 / q8 / q16 or entropy-coded integer codes
(qe), concatenated, then zstd-compressed (or not)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import zstandard

from ..errors import InvalidPayload
from . import entropy, limits
from .header import CODED_DTYPES, TENSOR_DTYPES, StageSpec, TensorSpec

ZSTD_LEVEL = 19
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # RFC 8878 frame magic, little-endian 0xFD2FB528


def quantise(values: np.ndarray, dtype: str, step: float | None = None) -> tuple[TensorSpec, bytes, np.ndarray]:
    """Quantise `values` for storage. Returns the spec (name left empty), raw bytes and the
    float32 values a decoder will reconstruct (the encoder snaps its model to these).

    Raises ValueError for what no file may hold (non-finite values, f16 overflow, values
    too large for any allowed q* step), so an encoder fails before it writes anything."""
    if dtype not in TENSOR_DTYPES:
        raise ValueError(f"unknown tensor dtype {dtype!r} (known: {', '.join(TENSOR_DTYPES)})")
    with np.errstate(over="ignore"):  # an overflow to infinity is refused just below
        values = np.asarray(values, dtype=np.float32)
    np_dtype, _, quantised = TENSOR_DTYPES[dtype]
    if not np.all(np.isfinite(values)):
        raise ValueError("cannot store non-finite parameters")
    if dtype in CODED_DTYPES:
        return _quantise_coded(values, dtype, step)
    if quantised:
        limit = 127 if dtype == "q8" else 32767
        if step is None:
            peak = float(np.max(np.abs(values))) if values.size else 0.0
            if peak / limit > limits.MAX_QUANT_STEP:
                raise ValueError(f"values up to {peak:g} are too large for {dtype}")
            # Clamp up to the smallest allowed step: values this tiny all round to 0 anyway.
            step = max(peak / limit, limits.MIN_QUANT_STEP) if peak > 0 else 1.0
        step = float(np.float32(step))
        if not limits.MIN_QUANT_STEP <= step <= limits.MAX_QUANT_STEP:
            raise ValueError(f"quantisation step {step!r} is outside [2^-126, 2^64]")
        q = np.clip(np.rint(values / np.float32(step)), -limit, limit).astype(np_dtype)
        decoded = q.astype(np.float32) * np.float32(step)
        raw = q.tobytes()
    else:
        step = None
        with np.errstate(over="ignore"):
            stored = values.astype(np_dtype)
        if not np.all(np.isfinite(stored)):
            raise ValueError(f"values overflow {dtype} (largest magnitude {float(np.max(np.abs(values))):g})")
        decoded = stored.astype(np.float32)
        raw = stored.tobytes()
    return TensorSpec("", tuple(values.shape), dtype, step), raw, decoded


def _quantise_coded(values: np.ndarray, dtype: str, step: float | None) -> tuple[TensorSpec, bytes, np.ndarray]:
    """Integer codes round(v / step), entropy-coded (entropy.py); `step` is required: the
    encoder chose it by rate-distortion cost."""
    if step is None:
        raise ValueError(f"{dtype} tensors need a quantisation step")
    step = float(np.float32(step))
    if not limits.MIN_QUANT_STEP <= step <= limits.MAX_QUANT_STEP:
        raise ValueError(f"quantisation step {step!r} is outside [2^-126, 2^64]")
    codes = np.rint(values.astype(np.float64) / step)
    if codes.size and float(np.max(np.abs(codes))) > entropy.MAX_SYMBOL:
        raise ValueError(f"values up to {float(np.max(np.abs(values))):g} need codes beyond 2^30 at step {step:g}")
    codes = codes.astype(np.int64)
    raw = entropy.encode_symbols(codes)
    decoded = codes.astype(np.float32) * np.float32(step)
    return TensorSpec("", tuple(values.shape), dtype, step, len(raw)), raw, decoded


def decode_tensor(spec: TensorSpec, raw: bytes | memoryview) -> np.ndarray:
    if spec.dtype in CODED_DTYPES:
        values = entropy.decode_symbols(raw, spec.numel).astype(np.float32)  # int32 codes, exact below 2^24
        values *= np.float32(spec.step)
        return values.reshape(spec.shape)
    np_dtype, _, quantised = TENSOR_DTYPES[spec.dtype]
    values = np.frombuffer(raw, dtype=np_dtype, count=spec.numel).astype(np.float32).reshape(spec.shape)
    if quantised:
        values *= np.float32(spec.step)
    elif not np.all(np.isfinite(values)):
        raise InvalidPayload(f"tensor {spec.name!r} holds non-finite values")
    return values


def compress(payload: bytes) -> bytes:
    """One zstd frame with its content size written (readers require it: formats/nff.md 6.3)."""
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True).compress(payload)


def pack_stage(raw_tensors: Sequence[bytes], compression: str) -> bytes:
    payload = b"".join(raw_tensors)
    if compression == "none":
        return payload
    return compress(payload)


def decompress_exact(data: memoryview | bytes, expected: int, what: str) -> bytes:
    """Decompress one zstd frame that must hold exactly `expected` bytes (already bounded by the
    header limits), refusing anything else with InvalidPayload before allocating its output."""
    data = memoryview(data)
    if bytes(data[:4]) != ZSTD_MAGIC:
        # Also refuses skippable frames, which libzstd would happily "decompress" to nothing.
        raise InvalidPayload(f"{what}: not a zstd frame")
    try:
        params = zstandard.get_frame_parameters(bytes(data[:32]))  # a frame header is <= 18 bytes
    except zstandard.ZstdError:
        raise InvalidPayload(f"{what}: not a zstd frame") from None
    if params.content_size != expected:
        # Refuse before decompressing: the frame must declare exactly what the header implies,
        # which also bounds the decoder's output buffer (no decompression bombs).
        raise InvalidPayload(f"{what}: zstd frame declares {params.content_size} bytes, header implies {expected}")
    if params.dict_id != 0:
        raise InvalidPayload(f"{what}: zstd frame needs dictionary {params.dict_id}")
    if params.window_size > limits.MAX_ZSTD_WINDOW:
        raise InvalidPayload(f"{what}: zstd window of {params.window_size} bytes > {limits.MAX_ZSTD_WINDOW}")
    try:
        if expected:
            # One call into a buffer of exactly `expected` bytes: libzstd refuses a block that would
            # write past it. (Its streaming API checks the size only at the end of the frame, so a
            # frame that declares the right size but whose blocks expand to gigabytes would be
            # inflated whole first: a decompression bomb.) Trailing bytes and second frames too.
            out = zstandard.ZstdDecompressor(max_window_size=limits.MAX_ZSTD_WINDOW).decompress(data, allow_extra_data=False)
        else:
            # python-zstandard answers b"" for a declared size of 0 without decoding the blocks:
            # stream it (a frame of content size 0 has no room for output; libzstd refuses any).
            dobj = zstandard.ZstdDecompressor(max_window_size=limits.MAX_ZSTD_WINDOW).decompressobj()
            out = dobj.decompress(data)
            if not dobj.eof or dobj.unused_data:
                out = None
    except zstandard.ZstdError as exc:
        raise InvalidPayload(f"{what}: corrupt zstd data ({exc})") from None
    if out is None or len(out) != expected:
        raise InvalidPayload(f"{what}: zstd data does not hold exactly one frame of {expected} bytes")
    return out


def decompress_at_most(data: memoryview | bytes, max_bytes: int, what: str) -> bytes:
    """Decompress one zstd frame of at most `max_bytes` bytes (ancillary data whose exact size
    no header states), refusing a larger one with InvalidPayload without producing its output,
    whatever size the frame declares (or not). A frame that declares its size must fill `data`
    exactly (decompress_exact); one that does not is read as zstd streams are, with any frames
    that follow it (the output stays bounded by `max_bytes` all the same)."""
    data = memoryview(data)
    try:
        declared = zstandard.get_frame_parameters(bytes(data[:32])).content_size
    except zstandard.ZstdError:
        raise InvalidPayload(f"{what}: not a zstd frame") from None
    if declared != zstandard.CONTENTSIZE_UNKNOWN:
        if declared > max_bytes:
            raise InvalidPayload(f"{what}: zstd frame declares {declared} bytes, more than {max_bytes}")
        return decompress_exact(data, declared, what)
    if bytes(data[:4]) != ZSTD_MAGIC:
        raise InvalidPayload(f"{what}: not a zstd frame")
    try:
        with zstandard.ZstdDecompressor(max_window_size=limits.MAX_ZSTD_WINDOW).stream_reader(data) as reader:
            pieces, size = [], 0
            while size <= max_bytes:  # no more than one byte past the limit is ever produced
                piece = reader.read(max_bytes + 1 - size)
                if not piece:
                    break
                pieces.append(piece)
                size += len(piece)
            out = b"".join(pieces)
    except zstandard.ZstdError as exc:
        raise InvalidPayload(f"{what}: corrupt zstd data ({exc})") from None
    if len(out) > max_bytes:
        raise InvalidPayload(f"{what}: decompresses to more than {max_bytes} bytes")
    return out


def unpack_stage(stage: StageSpec, data: memoryview, compression: str) -> dict[str, np.ndarray]:
    """Decode one stage chunk's data into float32 arrays keyed by tensor name."""
    payload: bytes | memoryview = data if compression == "none" else decompress_exact(data, stage.raw_bytes, f"stage {stage.index}")
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
    return TensorSpec(name, spec.shape, spec.dtype, spec.step, spec.coded_bytes)


def stage_tensor_specs(tensors: Mapping[str, TensorSpec]) -> list[TensorSpec]:
    return [named(spec, name) for name, spec in tensors.items()]
