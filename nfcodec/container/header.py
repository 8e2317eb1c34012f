"""The NHDR chunk: a msgpack map, validated into frozen dataclasses (formats/nff.md, "Header").

Parse into plain Python objects with msgpack's size limits, then check every field before
anything is trusted; the writer runs the same validator, so it cannot emit what the reader
would refuse.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any, Mapping

import msgpack

from ..errors import InvalidChunkLayout, InvalidHeader, LimitExceeded, UnknownCriticalChunk, UnsupportedVersion
from . import limits
from .chunks import (
    CHUNK_OVERHEAD,
    END_TYPE,
    HEADER_TYPE,
    KNOWN_CRITICAL_TYPES,
    STAGE_TYPE,
    TRANSFORM_DATA_TYPE,
    is_critical,
    is_valid_type,
)

FORMAT_VERSION = (1, 0)
# the version a file declares when it uses what 1.1 added (the qe dtype); others keep 1.0
CODED_FORMAT_VERSION = (1, 1)
COMPRESSIONS = ("zstd", "none")
# The key of `transform.params` that states the decompressed size of the NXFM chunk: the
# container reads it so that it can bound the decompression before the transform is known.
TRANSFORM_DATA_BYTES_KEY = "data_bytes"
# dtype name -> (numpy dtype string, bytes per element, quantised with a step?)
TENSOR_DTYPES = {
    "f32": ("<f4", 4, False),
    "f16": ("<f2", 2, False),
    "q8": ("<i1", 1, True),
    "q16": ("<i2", 2, True),
    # integer codes entropy-coded with their model (entropy.py): a variable length, the
    # tensor entry's "bytes"
    "qe": ("<i8", 0, True),
}
CODED_DTYPES = ("qe",)


@dataclass(frozen=True)
class TensorSpec:
    """One tensor stored in a stage chunk: `value = raw` (float dtypes) or `raw * step` (q*)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    step: float | None = None
    coded_bytes: int | None = None  # the stream's length, for an entropy-coded dtype

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        if self.dtype in CODED_DTYPES:
            return int(self.coded_bytes or 0)
        return self.numel * TENSOR_DTYPES[self.dtype][1]

    def to_raw(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}
        if self.step is not None:
            raw["step"] = self.step
        if self.coded_bytes is not None:
            raw["bytes"] = self.coded_bytes
        return raw


@dataclass(frozen=True)
class ChunkRef:
    """Where a chunk after the header lives: absolute offset of its length field, data length."""

    type: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + CHUNK_OVERHEAD + self.length


@dataclass(frozen=True)
class StageSpec:
    index: int  # 1-based stage number
    width: int  # field-defined size of the sub-network after this stage (e.g. MLP width)
    tensors: tuple[TensorSpec, ...]
    chunk: ChunkRef
    # the part of the signal's sample lattice that widths >= this stage decode: one half-open
    # [start, stop) per axis, in the modality's axis order; None: the whole domain
    extent: tuple[tuple[int, int], ...] | None = None

    @property
    def new_params(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def raw_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


@dataclass(frozen=True)
class Header:
    version: tuple[int, int]
    modality: str
    signal: Mapping[str, Any]
    transform: Mapping[str, Any]
    field: Mapping[str, Any]
    compression: str
    stages: tuple[StageSpec, ...]
    chunks: tuple[ChunkRef, ...]  # every chunk after the header, NEND last
    header_end: int  # absolute offset of the first byte after the NHDR chunk
    encoder: Mapping[str, Any] = field(default_factory=dict)
    transform_data: ChunkRef | None = None  # the NXFM chunk, if the file has one
    transform_data_bytes: int | None = None  # its decompressed size (transform.params.data_bytes)

    @property
    def file_size(self) -> int:
        return self.chunks[-1].end

    def params_at(self, width_index: int) -> int:
        """Parameters decoded at stage count `width_index` (1-based, cumulative)."""
        return sum(s.new_params for s in self.stages[:width_index])

    def prefix_bytes(self, width_index: int) -> int:
        """Bytes from the start of the file that hold the header and stages 1..k."""
        if not 1 <= width_index <= len(self.stages):
            raise ValueError(f"stage count {width_index} is not in 1..{len(self.stages)}")
        return self.stages[width_index - 1].chunk.end


# ---- validation helpers -----------------------------------------------------------------


def _require(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str = "header") -> Any:
    if key not in raw:
        raise InvalidHeader(f"{where}: missing field {key!r}")
    value = raw[key]
    # bool is an int subclass: never accept it where a number is expected
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise InvalidHeader(f"{where}: field {key!r} has the wrong type")
    return value


def _extent(raw: Any, where: str) -> tuple[tuple[int, int], ...] | None:
    """A stage's optional extent: 1..MAX_EXTENT_AXES pairs [start, stop) of sample indices,
    start < stop. Whether it fits the signal's domain is the modality's to check."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not 1 <= len(raw) <= limits.MAX_EXTENT_AXES:
        raise InvalidHeader(f"{where}: 'extent' must be an array of 1..{limits.MAX_EXTENT_AXES} [start, stop] pairs")
    pairs = []
    for pair in raw:
        if (not isinstance(pair, list) or len(pair) != 2
                or any(not isinstance(v, int) or isinstance(v, bool) for v in pair)
                or not 0 <= pair[0] < pair[1] <= limits.MAX_EXTENT_INDEX):
            raise InvalidHeader(f"{where}: 'extent' entries must be [start, stop] with 0 <= start < stop <= 2^26")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _check_values(obj: Any, depth: int = 0) -> None:
    """Only nil, bool, int, finite float, str, array and map may appear, nested at most
    MAX_MSGPACK_DEPTH deep (bin and ext were already refused while unpacking)."""
    if depth > limits.MAX_MSGPACK_DEPTH:
        raise InvalidHeader("header nests too deeply")
    if isinstance(obj, dict):
        for v in obj.values():
            _check_values(v, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            _check_values(v, depth + 1)
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise InvalidHeader("header holds a non-finite number")
    elif not (obj is None or isinstance(obj, (bool, int, str))):
        raise InvalidHeader(f"header holds a value of msgpack type {type(obj).__name__}")


def _int(value: Any, lo: int, hi: int | None, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < lo or (hi is not None and value > hi):
        raise InvalidHeader(f"{what} must be an integer in [{lo}, {hi if hi is not None else 'inf'}]")
    return value


def _step(value: Any, where: str, name: str) -> float:
    # Exactly a normal binary32 number in [MIN, MAX]: every reader computes raw * step in
    # binary32 and gets the same, finite value.
    ok = isinstance(value, float) and limits.MIN_QUANT_STEP <= value <= limits.MAX_QUANT_STEP
    if not ok or struct.unpack("<f", struct.pack("<f", value))[0] != value:
        raise InvalidHeader(
            f"{where}: tensor {name!r} needs a 'step' that is a binary32 number in [2^-126, 2^64]"
        )
    return value


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not (0 < len(value) <= limits.MAX_NAME_LENGTH) or not value.isprintable():
        raise InvalidHeader(f"{where}: invalid name")
    return value


def _tensor(raw: Any, where: str) -> TensorSpec:
    if not isinstance(raw, dict):
        raise InvalidHeader(f"{where}: tensor entry is not a map")
    name = _name(raw.get("name"), where)
    shape_raw = _require(raw, "shape", list, where)
    if len(shape_raw) > limits.MAX_TENSOR_RANK:
        raise LimitExceeded(f"{where}: tensor {name!r} has rank {len(shape_raw)} > {limits.MAX_TENSOR_RANK}")
    numel = 1
    for dim in shape_raw:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
            raise InvalidHeader(f"{where}: tensor {name!r} has an invalid dimension")
        # Each dimension is capped too, so that a zero elsewhere cannot hide a huge one.
        if dim > limits.MAX_TENSOR_ELEMENTS:
            raise LimitExceeded(f"{where}: tensor {name!r} has a dimension > {limits.MAX_TENSOR_ELEMENTS}")
        numel *= dim
        if numel > limits.MAX_TENSOR_ELEMENTS:
            raise LimitExceeded(f"{where}: tensor {name!r} exceeds {limits.MAX_TENSOR_ELEMENTS} elements")
    dtype = _require(raw, "dtype", str, where)
    if dtype not in TENSOR_DTYPES:
        raise InvalidHeader(f"{where}: tensor {name!r} has unknown dtype {dtype!r}")
    quantised = TENSOR_DTYPES[dtype][2]
    step = raw.get("step")
    if quantised:
        step = _step(step, where, name)
    elif step is not None:
        raise InvalidHeader(f"{where}: tensor {name!r} of dtype {dtype} must not have a 'step'")
    coded = raw.get("bytes")
    if dtype in CODED_DTYPES:
        coded = _int(coded, 1, limits.MAX_STAGE_RAW_BYTES, f"{where}: tensor {name!r} 'bytes'")
    elif coded is not None:
        raise InvalidHeader(f"{where}: tensor {name!r} of dtype {dtype} must not have 'bytes'")
    return TensorSpec(name, tuple(shape_raw), dtype, step, coded)


def _chunk_index(raw: Any, header_end: int) -> tuple[ChunkRef, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidHeader("header: 'index' must be a non-empty list")
    if len(raw) > limits.MAX_CHUNKS:
        raise LimitExceeded(f"header: {len(raw)} chunks > {limits.MAX_CHUNKS}")
    refs = []
    expected_rel = 0
    for i, entry in enumerate(raw):
        if not (isinstance(entry, list) and len(entry) == 3):
            raise InvalidHeader(f"header: index entry {i} is not [type, offset, length]")
        chunk_type, rel, length = entry
        if not isinstance(chunk_type, str) or not is_valid_type(chunk_type):
            raise InvalidHeader(f"header: index entry {i} has an invalid chunk type")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (rel, length)):
            raise InvalidHeader(f"header: index entry {i} has non-integer offset or length")
        if rel < 0 or length < 0:
            raise InvalidHeader(f"header: index entry {i} has a negative offset or length")
        if length > limits.MAX_CHUNK_BYTES:
            raise LimitExceeded(f"header: index entry {i} declares {length} bytes > {limits.MAX_CHUNK_BYTES}")
        # Contiguous, sorted, hole-free: a file has exactly one layout (no polyglots).
        if rel != expected_rel:
            raise InvalidChunkLayout(f"header: index entry {i} is at {rel}, expected {expected_rel}")
        if is_critical(chunk_type) and chunk_type not in KNOWN_CRITICAL_TYPES:
            raise UnknownCriticalChunk(f"unknown critical chunk type {chunk_type!r}")
        if chunk_type == HEADER_TYPE:
            raise InvalidChunkLayout("header: a second NHDR chunk is listed")
        if chunk_type == TRANSFORM_DATA_TYPE:
            # Decoders need it before stage 1, so every stage prefix must contain it.
            if any(r.type in (TRANSFORM_DATA_TYPE, STAGE_TYPE) for r in refs):
                raise InvalidChunkLayout("header: an NXFM chunk must appear once, before the first NSTG")
        refs.append(ChunkRef(chunk_type, header_end + rel, length))
        expected_rel = rel + CHUNK_OVERHEAD + length
    if refs[-1].type != END_TYPE or refs[-1].length != 0:
        raise InvalidChunkLayout("header: the index must end with an empty NEND chunk")
    if any(r.type == END_TYPE for r in refs[:-1]):
        raise InvalidChunkLayout("header: NEND listed before the last entry")
    return tuple(refs)


def validate_header(raw: Any, header_end: int) -> Header:
    """Turn a parsed msgpack object into a validated Header (raises NffError subclasses)."""
    if not isinstance(raw, dict):
        raise InvalidHeader("header is not a map")
    # The version comes first, so a future major version is reported as such even if the
    # rest of its header means something else.
    version = _require(raw, "version", list)
    if len(version) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in version):
        raise InvalidHeader("header: 'version' must be [major, minor], two non-negative integers")
    if version[0] != FORMAT_VERSION[0]:
        raise UnsupportedVersion(f"NFF version {version[0]}.{version[1]} is not supported (this reader: {FORMAT_VERSION[0]}.x)")
    _check_values(raw)
    modality = _name(_require(raw, "modality", str), "header.modality")
    signal = _require(raw, "signal", dict)
    transform = _require(raw, "transform", dict)
    _int(_require(transform, "id", int, "header.transform"), 0, limits.MAX_REGISTRY_ID, "header.transform.id")
    _name(_require(transform, "name", str, "header.transform"), "header.transform.name")
    transform_params = transform.get("params", {})
    if not isinstance(transform_params, dict):
        raise InvalidHeader("header.transform: 'params' must be a map")
    field_raw = _require(raw, "field", dict)
    _name(_require(field_raw, "arch", str, "header.field"), "header.field.arch")
    _require(field_raw, "config", dict, "header.field")
    if "id" in field_raw:
        _int(field_raw["id"], 0, limits.MAX_REGISTRY_ID, "header.field.id")
    compression = _require(raw, "compression", str)
    if compression not in COMPRESSIONS:
        raise InvalidHeader(f"header: unknown compression {compression!r}")
    encoder = raw.get("encoder", {})
    if not isinstance(encoder, dict):
        raise InvalidHeader("header: 'encoder' must be a map")

    chunks = _chunk_index(_require(raw, "index", list), header_end)
    transform_data = next((c for c in chunks if c.type == TRANSFORM_DATA_TYPE), None)
    data_bytes = _transform_data_bytes(transform_params, transform_data is not None)
    stage_chunks = [c for c in chunks if c.type == STAGE_TYPE]
    stages_raw = _require(raw, "stages", list)
    if not stages_raw:
        raise InvalidHeader("header: no stages")
    if len(stages_raw) > limits.MAX_STAGES:
        raise LimitExceeded(f"header: {len(stages_raw)} stages > {limits.MAX_STAGES}")
    if len(stages_raw) != len(stage_chunks):
        raise InvalidChunkLayout(f"header: {len(stages_raw)} stages but {len(stage_chunks)} NSTG chunks in the index")
    stages = []
    total_raw = coded_elements = 0
    previous_width = 0
    for i, (entry, chunk) in enumerate(zip(stages_raw, stage_chunks), start=1):
        where = f"header.stages[{i}]"
        if not isinstance(entry, dict):
            raise InvalidHeader(f"{where}: not a map")
        width = _require(entry, "width", int, where)
        if width <= previous_width:
            raise InvalidHeader(f"{where}: widths must increase strictly")
        previous_width = width
        tensors_raw = _require(entry, "tensors", list, where)
        if len(tensors_raw) > limits.MAX_TENSORS_PER_STAGE:
            raise LimitExceeded(f"{where}: {len(tensors_raw)} tensors > {limits.MAX_TENSORS_PER_STAGE}")
        tensors = tuple(_tensor(t, where) for t in tensors_raw)
        if len({t.name for t in tensors}) != len(tensors):
            raise InvalidHeader(f"{where}: duplicate tensor names")
        stage = StageSpec(i, width, tensors, chunk, _extent(entry.get("extent"), where))
        if stage.raw_bytes > limits.MAX_STAGE_RAW_BYTES:
            raise LimitExceeded(f"{where}: {stage.raw_bytes} decompressed bytes > {limits.MAX_STAGE_RAW_BYTES}")
        if stage.new_params > limits.MAX_STAGE_ELEMENTS:
            raise LimitExceeded(f"{where}: {stage.new_params} tensor elements > {limits.MAX_STAGE_ELEMENTS}")
        if compression == "none" and chunk.length != stage.raw_bytes:
            raise InvalidChunkLayout(f"{where}: uncompressed chunk of {chunk.length} bytes, tensors need {stage.raw_bytes}")
        total_raw += stage.raw_bytes
        coded_elements += sum(t.numel for t in tensors if t.dtype in CODED_DTYPES)
        stages.append(stage)
    if total_raw > limits.MAX_TOTAL_RAW_BYTES:
        raise LimitExceeded(f"header: {total_raw} decompressed bytes in all > {limits.MAX_TOTAL_RAW_BYTES}")
    if coded_elements > limits.MAX_TOTAL_CODED_ELEMENTS:
        # a short stream can declare many symbols: bound what decoding them allocates
        raise LimitExceeded(f"header: {coded_elements} entropy-coded elements in all > {limits.MAX_TOTAL_CODED_ELEMENTS}")
    return Header(
        version=(version[0], version[1]),
        modality=modality,
        signal=signal,
        transform=transform,
        field=field_raw,
        compression=compression,
        stages=tuple(stages),
        chunks=chunks,
        header_end=header_end,
        encoder=encoder,
        transform_data=transform_data,
        transform_data_bytes=data_bytes,
    )


def _transform_data_bytes(params: Mapping[str, Any], has_chunk: bool) -> int | None:
    """`transform.params.data_bytes`: required with an NXFM chunk (its exact decompressed
    size, so the reader bounds the output before decompressing), forbidden without one."""
    key = TRANSFORM_DATA_BYTES_KEY
    if not has_chunk:
        if key in params:
            raise InvalidHeader(f"header.transform.params: {key!r} without an NXFM chunk")
        return None
    if key not in params:
        raise InvalidHeader(f"header.transform.params: the NXFM chunk needs {key!r}")
    value = params[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidHeader(f"header.transform.params: {key!r} must be a non-negative integer")
    if value > limits.MAX_TRANSFORM_DATA_BYTES:
        raise LimitExceeded(f"header.transform.params: {key} = {value} > {limits.MAX_TRANSFORM_DATA_BYTES}")
    return value


def unpack_header(data: bytes | memoryview, header_end: int) -> Header:
    """msgpack-decode the NHDR payload with size limits and no extension types, then validate."""

    def refuse_ext(code: int, _data: bytes) -> None:
        raise InvalidHeader(f"header uses msgpack extension type {code}")

    containers = 0

    def count() -> None:
        nonlocal containers
        containers += 1
        if containers > limits.MAX_HEADER_CONTAINERS:  # stops the unpacking early
            raise InvalidHeader(f"header holds more than {limits.MAX_HEADER_CONTAINERS} arrays and maps")

    def build_list(items: list[Any]) -> list[Any]:
        count()
        return items

    def build_map(pairs: list[tuple[Any, Any]]) -> dict[str, Any]:
        # msgpack would silently keep the last of duplicate keys: two readers could then
        # disagree on what a file means, so duplicates (and non-string keys) are refused.
        count()
        out: dict[str, Any] = {}
        for key, value in pairs:
            if not isinstance(key, str):
                raise InvalidHeader("header map keys must be strings")
            if key in out:
                raise InvalidHeader(f"header map has a duplicate key {key!r}")
            out[key] = value
        return out

    try:
        raw = msgpack.unpackb(
            bytes(data),
            raw=False,
            strict_map_key=True,
            object_pairs_hook=build_map,
            list_hook=build_list,
            ext_hook=refuse_ext,
            max_str_len=limits.MAX_HEADER_BYTES,
            # No bin or ext values (msgpack timestamps included); the empty ones these limits
            # still let through are refused by build_map, refuse_ext and _check_values.
            max_bin_len=0,
            max_ext_len=0,
            max_array_len=limits.MAX_HEADER_ARRAY_LEN,
            max_map_len=limits.MAX_HEADER_MAP_LEN,
        )
    except InvalidHeader:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for malformed input
        raise InvalidHeader(f"header is not valid msgpack ({type(exc).__name__})") from None
    return validate_header(raw, header_end)


def pack_header(raw: Mapping[str, Any]) -> bytes:
    return msgpack.packb(raw, use_bin_type=True)
