"""Decoding `.nff` images: a whole file, a prefix of one, or stage by stage as bytes arrive.

`Decoder` validates the header once and builds the field and the transform; stages are
loaded as they become available and any loaded width can be rendered. `decode_bytes` and
`decode` are one-shot uses of it; `nfcodec.streaming` feeds it from a byte stream.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import msgpack
import numpy as np
import torch

from . import container
from .container.tensors import decompress_at_most
from .errors import InvalidHeader, InvalidPayload, TruncatedFile, UnknownCodecId, UsageError
from .fsutil import check_output_path, input_file
from .modalities import check_options, modality
from .modalities.base import check_extents
from .registry import FIELDS
from .schema import MAX_FIELD_PARAMS
from .transforms import transform_from_header

SEARCH_CHUNK = "srch"  # ancillary: the encoder's transform-search table (zstd msgpack), after the stages
MAX_SEARCH_TABLE = 1 << 20  # decompressed bytes of a search table a reader accepts


def pack_search_table(table: dict[str, Any]) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=19, write_content_size=True).compress(msgpack.packb(table))


@dataclass
class DecodeResult:
    """A decoded width. Nothing is rendered until asked for: `pixels` renders the whole signal
    in memory (an image; a clip as [T, H, W, 3]), `write` streams it block by block (a clip
    frame by frame) into a file."""

    decoder: "Decoder" = field(repr=False)
    width: int  # stages decoded
    widths_available: int
    stages_total: int
    complete: bool
    output: str | None = None
    note: str | None = None  # e.g. "truncated file: decoded width 2 of 4"
    scale: float = 1.0  # the output's size relative to the stored signal
    written_as: str = ""  # how the output was written (a video's codec and quality)
    _pixels: np.ndarray | None = field(default=None, repr=False)

    @property
    def modality(self) -> str:
        return self.decoder.modality.name

    @property
    def shape(self) -> list[int]:
        """The decoded signal's lattice (what this width covers) and channels."""
        extent = self.decoder.extent(self.width)
        lattice = self.decoder.modality.domain(self.decoder.geometry).shape
        return [*(lattice if extent is None else [stop - start for start, stop in extent]), self.decoder.geometry.channels]

    @property
    def pixels(self) -> np.ndarray:
        if self._pixels is None:
            self._pixels = self.decoder.render(self.width)
        return self._pixels

    def write(self, path: str | os.PathLike, options: Mapping[str, Any] | None = None) -> None:
        """Write the decoded signal atomically, as its modality writes (an image: PNG; a clip:
        by its suffix, frame by frame)."""
        blocks = [self._pixels] if self._pixels is not None else self.decoder.blocks(self.width)
        self.written_as = self.decoder.modality.write(path, blocks, self.decoder.geometry, options or {})

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "width": self.width,
            "widths_available": self.widths_available,
            "stages_total": self.stages_total,
            "complete": self.complete,
            "scale": self.scale,
            "modality": self.modality,
            "shape": self.shape,
            **({"written_as": self.written_as} if self.written_as else {}),
        }


def _field_from_header(header: container.Header) -> Any:
    arch = header.field["arch"]
    entry = FIELDS.by_name(arch)
    if header.field.get("id", entry.id) != entry.id:
        raise UnknownCodecId(f"field id {header.field.get('id')} does not match architecture {arch!r}")
    field_cls = entry.load()
    widths = tuple(s.width for s in header.stages)
    config = field_cls.validate_config(header.field["config"], widths)
    if field_cls.allocated_params(widths, config) > MAX_FIELD_PARAMS:
        raise InvalidHeader(f"header.field: a {arch} of widths {list(widths)} exceeds the decoder's allocation limit")
    # Every stage must declare exactly the tensors the field expects, before we allocate it.
    for stage in header.stages:
        expected = field_cls.stage_shapes(widths, config, stage.index)
        declared = {t.name: t.shape for t in stage.tensors}
        if declared != {k: tuple(v) for k, v in expected.items()}:
            raise InvalidPayload(f"stage {stage.index}: tensors do not match a {arch} of widths {list(widths)}")
    return field_cls.from_config(widths, config)


# Renderers evaluate 2^16 to 2^18 points at a time, but a (hostile) header may declare a layer of
# millions of units within MAX_FIELD_PARAMS: the decoder's field is evaluated in pieces small
# enough that one layer's activations hold at most this many values (binary32: 128 MiB).
MAX_ACTIVATIONS = 1 << 25


class _BoundedField:
    """A decoder's field as renderers see it: `forward` in pieces of at most `points` points
    (the lattice split along with the coordinates), everything else (loading stages, shapes,
    widths) the field's own."""

    def __init__(self, field: Any, points: int):
        self._field, self._points = field, points

    def __getattr__(self, name: str) -> Any:
        return getattr(self._field, name)

    def forward(self, coords: torch.Tensor, stage: int, lattice: Any = None) -> torch.Tensor:
        n = self._points
        if coords.shape[0] <= n:
            return self._field.forward(coords, stage, lattice)
        if lattice is None:
            return torch.cat([self._field.forward(coords[i : i + n], stage) for i in range(0, coords.shape[0], n)])
        return torch.cat([self._field.forward(torch.from_numpy(part.coords()).to(coords.device), stage, part)
                          for part in lattice.split(n)])


def bounded_for_rendering(field: Any) -> Any:
    """`field`, or a _BoundedField of it when its widest layer (hidden units or encoding
    features) would hold more than MAX_ACTIVATIONS values for a renderer's block of points."""
    widths = list(field.mlp.config.widths) + list(field.encoding.out_dims())
    points = max(1, MAX_ACTIVATIONS // max(widths))
    return _BoundedField(field, points) if points < 1 << 18 else field  # renderers' blocks: <= 2^18 points


def check_scale(scale: float) -> float:
    """`scale` as a float if it is a usable output scale (finite, > 0), else UsageError."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise UsageError(f"--scale must be a finite number > 0, got {scale!r}")
    return float(scale)


class Decoder:
    """Decodes one file, of any modality, stage by stage: built once from a prefix that holds at
    least one complete stage (so the header and any NXFM chunk are there), then `load` more
    stages as more bytes arrive and `render` any loaded width. Everything the header declares
    is validated before anything is allocated."""

    def __init__(self, nff: container.NffFile, scale: float = 1.0, options: Mapping[str, Any] | None = None):
        scale = check_scale(scale)
        header = nff.header
        self.modality = modality(header.modality)  # UnknownCodecId for a modality we lack
        if nff.stages_available == 0:
            raise TruncatedFile(f"truncated file: no complete stage yet (the file has {header.file_size} bytes)")
        self.header = header
        geometry = self.modality.from_description(header.signal)
        self.field = bounded_for_rendering(_field_from_header(header))  # whoever renders it (plugins too)
        domain = self.modality.domain(geometry)
        check_extents([s.extent for s in header.stages], domain, self.modality.growth)
        if self.field.in_dim != len(domain.axes) or self.field.out_dim != geometry.channels:
            raise InvalidHeader(f"header: field dimensions do not match the {self.modality.name}")
        # Positional transform data is 4 bytes per position: refuse a larger declared size unread.
        extra = nff.transform_data(max_bytes=4 * geometry.num_points)
        self.transform = transform_from_header(header.transform, extra, geometry.num_points, geometry.channels,
                                               admitted=self.modality.transforms)
        partial = [s.extent for s in header.stages if s.extent is not None and list(s.extent) != [(0, n) for n in domain.shape]]
        if partial and self.transform.moves_positions:
            raise InvalidHeader("header: a transform that moves samples cannot decode a stage that covers part of the signal")
        if scale != 1.0:
            if not self.transform.preserves_interpolation:
                raise UsageError(
                    f"cannot decode at --scale {scale:g}: this file's transform {self.transform.name!r} moves samples, "
                    "so the field does not interpolate the signal"
                )
            geometry = self.modality.rescale(geometry, scale)
        geometry = self.modality.output_geometry(geometry, options or {})  # e.g. a shape's --resolution
        self.stored_shape = domain.shape
        self.geometry = geometry
        self.scale = scale
        self.loaded = 0  # stages 1..loaded are in the field

    @property
    def stages_total(self) -> int:
        return len(self.header.stages)

    def load(self, nff: container.NffFile, width: int) -> None:
        """Load stages up to `width` from `nff` (a longer prefix of the same file)."""
        if width > nff.stages_available:
            raise TruncatedFile(f"truncated file: stage {width} is not complete yet")
        for k in range(self.loaded + 1, width + 1):
            self.field.load_stage_tensors(k, nff.stage_tensors(k))
        self.loaded = max(self.loaded, width)

    def blocks(self, width: int) -> Iterator[np.ndarray]:
        """The decoded signal at `width` (<= the loaded stage count), block by block in order."""
        if not 1 <= width <= self.loaded:
            raise UsageError(f"width {width} is not loaded (have 1..{self.loaded})")
        return self.modality.render(self.field, self.transform, self.geometry, width, torch.device("cpu"), self.extent(width))

    def extent(self, width: int) -> Any:
        """The part of the output a decode at `width` covers (None: all of it): the stage's
        extent, on the output's lattice when --scale resized some axes (which the stage must
        then cover whole: UsageError otherwise)."""
        extent = self.header.stages[width - 1].extent
        if extent is None or self.scale == 1.0:
            return extent
        shape = self.modality.domain(self.geometry).shape
        if any(pair != (0, n) and m != n for pair, n, m in zip(extent, self.stored_shape, shape)):
            raise UsageError(f"cannot decode width {width} at --scale {self.scale:g}: its stage covers part of the "
                             "signal along a rescaled axis (spatial growth)")
        return tuple(pair if m == n else (0, m) for pair, n, m in zip(extent, self.stored_shape, shape))

    def render(self, width: int) -> np.ndarray:
        """The whole decoded signal at `width` in memory (an image [H, W, C]; a clip [T, H, W, 3])."""
        return self.modality.assemble(self.blocks(width))


def decode_bytes(
    data: bytes | bytearray | memoryview, width: int | None = None, strict: bool = False, scale: float = 1.0,
    options: Mapping[str, Any] | None = None,
) -> DecodeResult:
    """Decode `.nff` bytes (a whole file or a prefix) at `width` stages (default: all present),
    at `scale` times the stored resolution (transforms that preserve interpolation only);
    `options`: the modality's output options (a shape's `resolution`)."""
    scale = check_scale(scale)  # a bad number fails before any reading
    nff = container.read(data, strict=strict)
    if nff.stages_available == 0:
        raise TruncatedFile(f"truncated file: no complete stage (have {len(data)} of {nff.header.file_size} bytes)")
    decoder = Decoder(nff, scale, options)
    available, total = nff.stages_available, nff.stages_total
    note = None
    if width is None:
        width = available
    elif width < 1 or width > total:
        raise UsageError(f"width {width} is out of range: the file has {total} stage(s)")
    elif width > available:
        note = f"truncated file: width {width} requested, decoded width {available} (the largest complete)"
        width = available
    if note is None and not nff.complete:
        note = f"truncated file: decoded width {width} of {total}"
    decoder.extent(width)  # a width that cannot be rendered at this scale fails now, before any loading
    decoder.load(nff, width)
    return DecodeResult(decoder, width, available, total, nff.complete, note=note, scale=float(scale))


def read_nff_bytes(path: str | os.PathLike) -> bytes:
    return input_file(path).read_bytes()


def decode(
    nff_path: str | os.PathLike,
    output_path: str | os.PathLike | None = None,
    width: int | None = None,
    strict: bool = False,
    scale: float = 1.0,
    options: Mapping[str, Any] | None = None,
) -> DecodeResult:
    """Decode a `.nff` file to its modality's output (default: `<name>.decoded.png` beside it
    for an image, `.decoded.mp4` for a clip); `options` are the modality's write options
    (a clip: crf, lossless, frames_dir). Every check runs before anything is rendered."""
    options = options or {}
    result = decode_bytes(read_nff_bytes(nff_path), width=width, strict=strict, scale=scale, options=options)
    output = Path(output_path) if output_path else default_output(Path(nff_path), result.decoder.modality)
    check_output_path(output, inputs=[nff_path])
    check_write(result.decoder.modality, output, options)
    result.write(output, options)
    result.output = str(options.get("frames_dir") or output)
    return result


def default_output(source: Path, decoded: Any) -> Path:
    """`<name>.decoded<suffix>`, the suffix the modality writes first (an image: .png)."""
    return source.with_suffix(".decoded" + decoded.output_suffixes[0])


def check_write(decoded: Any, output: str | os.PathLike, options: Mapping[str, Any]) -> None:
    """The modality takes these write options and can write this output: UsageError if not."""
    check_options(decoded, options, "write")
    decoded.check_output(output, options)


def info(data: bytes | bytearray | memoryview) -> dict[str, Any]:
    """Header summary and chunk table of a file or prefix (no decoding of parameters)."""
    nff = container.read(data, strict=False)
    header = nff.header
    present = {c.offset for c in nff.chunks}
    stages = [
        {
            "index": s.index,
            "width": s.width,
            "offset": s.chunk.offset,
            "length": s.chunk.length + container.CHUNK_OVERHEAD,
            "params": header.params_at(s.index),
            "new_params": s.new_params,
            "present": s.chunk.offset in present,
        }
        for s in header.stages
    ]
    chunks = [{"type": container.HEADER_TYPE, "offset": len(container.SIGNATURE), "length": header.header_end - len(container.SIGNATURE), "present": True}]
    chunks += [{"type": c.type, "offset": c.offset, "length": c.length + container.CHUNK_OVERHEAD, "present": c.offset in present} for c in header.chunks]
    return {
        "version": f"{header.version[0]}.{header.version[1]}",
        "modality": header.modality,
        "signal": dict(header.signal),
        "transform": {"id": header.transform["id"], "name": header.transform["name"], "params": dict(header.transform.get("params", {}))},
        "field": {"arch": header.field["arch"], "config": dict(header.field["config"])},
        "compression": header.compression,
        "complete": nff.complete,
        "file_size": header.file_size,
        "bytes_present": min(len(data), header.file_size),
        "widths_available": nff.stages_available,
        "stages": stages,
        "chunks": chunks,
        "encoder": dict(header.encoder),
        **_search_table(nff),
    }


def _search_table(nff: Any) -> dict[str, Any]:
    """The encoder's search table from a `srch` chunk, if present and well-formed (it is
    ancillary: a malformed one is reported, never fatal)."""
    chunks = nff.ancillary(SEARCH_CHUNK)
    if not chunks:
        return {}
    try:
        # bounded whatever the frame declares (zstandard's max_output_size is ignored when it
        # declares a content size: a 32 KB frame could make `nfc info` allocate gigabytes)
        data = decompress_at_most(chunks[0], MAX_SEARCH_TABLE, "search table")
        table = msgpack.unpackb(data, raw=False, max_str_len=1 << 12, max_array_len=1 << 12, max_map_len=1 << 8, max_bin_len=0, max_ext_len=0)
    except Exception as exc:  # ancillary data: any defect is reported, not raised
        return {"search_error": f"unreadable search table ({type(exc).__name__})"}
    if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
        return {"search_error": "malformed search table"}
    return {"search": table["rows"], "search_summary": {k: v for k, v in table.items() if k != "rows"}}
