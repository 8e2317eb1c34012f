"""The image codec: signal -> transform -> progressive field -> quantised stages -> `.nff`, and back.

This is the Python API behind `nfc encode`, `nfc decode` and `nfc info`; the CLI only parses
arguments and formats what these functions return.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import torch

from . import __version__, container
from .errors import InputError, InvalidHeader, InvalidPayload, TruncatedFile, UnknownCodecId, UsageError
from .fsutil import atomic_write, check_output_path
from .metrics import psnr
from .progress import SILENT, Progress
from .presets import ARCH_DEFAULTS, build_field, quant_step, storage_dtype
from .registry import FIELDS, MODALITIES
from .schema import MAX_FIELD_PARAMS
from .signals.image import MAX_PIXELS, MAX_SIDE, ImageGeometry, ImageSignal, pixel_coords, read_image, write_png
from .train import StageFit, TrainConfig, fit_progressive, predict
from .search import SearchConfig, SearchResult, parse_transform_choice, search_for_encode
from .search.predictor import inverse_slope_sq
from .transforms import Transform, fit_transform, transform_from_header

@dataclass
class EncodeConfig:
    arch: str = "grid"
    stages: int = 4
    widths: tuple[int, ...] | None = None  # explicit stage widths; default: the arch's rule
    steps: int | None = None  # training steps per stage (default: the arch's)
    lr: float | None = None
    batch_size: int = 1 << 19  # full batch up to 512k points (a Kodak image is 393k)
    seed: int = 0
    dtype: str | None = None  # parameter storage: f32, f16, q16, q8
    target_psnr: float | None = None
    compression: str = "zstd"
    precision: str = "auto"  # training arithmetic: "auto" (bf16 where native and safe), "fp32", "bf16"
    device: str = "auto"  # "auto": CUDA when available, else CPU; or "cpu", "cuda", "cuda:1", ...
    # "auto" (search every preset), a preset name (nfcodec.transforms.preset_names()), "none",
    # or a comma list of presets to search among
    transform: str = "auto"
    keep_interpolation: bool = False  # search only transforms a decoder can resample
    probe_side: int = 128  # search probes train on a centre crop of this side


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("CUDA was requested but torch sees no CUDA device")
    return device


@dataclass
class StageReport:
    index: int
    width: int
    params: int  # parameters decoded at this width (stages 1..k)
    new_params: int
    bytes: int  # size of this stage's chunk, framing included
    prefix_bytes: int  # bytes from the start of the file through this stage
    psnr: float  # dB of the decoded stage against the input
    steps: int
    seconds: float


@dataclass
class EncodeResult:
    data: bytes = field(repr=False)
    modality: str
    arch: str
    transform: dict[str, Any]
    stages: list[StageReport]
    seconds: float
    pixels: int
    output: str | None = None
    transform_preset: str = "identity"
    search: SearchResult | None = None

    @property
    def bpp(self) -> float:
        return len(self.data) * 8 / self.pixels

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "bytes": len(self.data),
            "bpp": round(self.bpp, 5),
            "modality": self.modality,
            "arch": self.arch,
            "transform": {
                "id": self.transform["id"],
                "name": self.transform["name"],
                "preset": self.transform_preset,
                "params": self.transform["params"],
            },
            "seconds": round(self.seconds, 3),
            **({"search": self.search.to_json()["rows"], "search_summary": _summary(self.search)} if self.search else {}),
            "stages": [asdict(s) | {"psnr": round(s.psnr, 4), "seconds": round(s.seconds, 3)} for s in self.stages],
        }


def _summary(result: SearchResult) -> dict[str, Any]:
    return {k: v for k, v in result.to_json().items() if k != "rows"}


RENDER_BLOCK_POINTS = 1 << 16


def render_image(field_model: Any, transform: Transform, geometry: ImageGeometry, stage: int, device: torch.device) -> np.ndarray:
    """The image at stage count `stage`: the field evaluated in blocks of rows into a
    preallocated array, so memory stays near the output's size. The encoder scores stages with
    this same function, so the PSNR it reports is exactly what decoding gives.

    A pointwise transform is inverted block by block. A positional one (a permutation) needs the
    whole image: the trained-domain image is rendered to samples first, then its samples are
    moved back (rounding commutes with moving samples, so this equals permuting floats)."""
    out = np.empty((geometry.height, geometry.width, geometry.channels), dtype=geometry.dtype)
    pointwise = not transform.moves_positions
    rows = max(1, RENDER_BLOCK_POINTS // geometry.width)
    for r0 in range(0, geometry.height, rows):
        r1 = min(geometry.height, r0 + rows)
        coords = torch.from_numpy(pixel_coords(geometry.height, geometry.width, slice(r0, r1))).to(device)
        values = predict(field_model, coords, stage, chunk=RENDER_BLOCK_POINTS).cpu().numpy()
        out[r0:r1] = geometry.to_pixels(transform.inverse(values) if pointwise else values, r1 - r0)
    if pointwise:
        return out
    return transform.inverse(out.reshape(-1, geometry.channels)).reshape(out.shape)


def encode_image(signal: ImageSignal, config: EncodeConfig | None = None, progress: Progress = SILENT) -> EncodeResult:
    """Fit a progressive field to an image and return the `.nff` bytes with per-stage reports."""
    config = config or EncodeConfig()
    if config.arch not in ARCH_DEFAULTS:
        raise UsageError(f"unknown architecture {config.arch!r} (known: {', '.join(sorted(ARCH_DEFAULTS))})")
    if not 1 <= config.stages <= container.limits_max_stages():
        raise UsageError(f"--stages must be between 1 and {container.limits_max_stages()}")
    defaults = ARCH_DEFAULTS[config.arch]
    steps = config.steps or defaults["steps"]
    if steps < 1:
        raise UsageError("--steps must be at least 1")
    dtype = config.dtype or defaults["dtype"]
    fixed, candidates = parse_transform_choice(config.transform)  # unknown names fail before any work
    start = time.perf_counter()
    device = resolve_device(config.device)
    normalised = signal.values()
    image = normalised.reshape(signal.height, signal.width, signal.channels)
    lr = config.lr or defaults["lr"]
    searched = None
    if fixed is None:
        searched = search_for_encode(image, config, _search_config(config, candidates), device=device, progress=progress)
        fixed, lr = searched.transform, searched.lr
        progress.message(f"transform search: {fixed}, lr {lr:g} ({searched.seconds:.1f} s): {searched.reason}")
    transform = fit_transform(fixed, image, config.seed)
    if "image" not in transform.modalities:
        raise UsageError(f"transform {fixed!r} does not apply to images")
    field_model = build_field(config, (signal.height, signal.width), signal.channels).to(device)
    widths = field_model.widths
    coords = torch.from_numpy(pixel_coords(signal.height, signal.width)).to(device)
    # The field learns the transformed signal; every reported PSNR is measured after inverting.
    target = transform.forward(normalised)
    values = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)).to(device)
    geometry = ImageGeometry(signal.height, signal.width, signal.channels, signal.bit_depth)
    train_config = TrainConfig(
        steps=steps,
        precision=config.precision,
        lr=lr,
        # full batch when the signal fits, else random mini-batches
        batch_size=config.batch_size,
        seed=config.seed,
        # training measures PSNR on the transformed signal: move the target into that domain
        target_psnr=None if config.target_psnr is None else config.target_psnr + trained_psnr_offset(transform, target),
    )
    encoded: list[container.EncodedStage] = []
    fits: list[StageFit] = []
    quality: list[float] = []

    def finalise(stage: int, fit: StageFit) -> None:
        # Quantise what this stage added and snap the field to the stored values: later stages
        # train against exactly what a decoder reconstructs, and the PSNR below is the file's.
        tensors = field_model.stage_tensors(stage)
        data = container.StageData(widths[stage - 1], [(n, v, storage_dtype(dtype, n)) for n, v in tensors.items()])
        steps_by_name = {n: quant_step(defaults.get("step_sigma", {}), n, v, storage_dtype(dtype, n)) for n, v in tensors.items()}
        enc = container.encode_stage(data, config.compression, steps_by_name)
        field_model.load_stage_tensors(stage, enc.decoded)
        decoded = render_image(field_model, transform, geometry, stage, device)
        quality.append(psnr(signal.pixels, decoded, peak=2**signal.bit_depth - 1))
        progress.message(
            f"stage {stage}/{len(widths)}: width {widths[stage - 1]}, {fit.steps} steps, {fit.seconds:.1f} s, {quality[-1]:.2f} dB decoded"
        )
        encoded.append(enc)
        fits.append(fit)

    fit_progressive(
        field_model, coords, values, train_config, on_stage_end=finalise, progress=progress,
        initial_bias=values.mean(dim=0),
    )
    transform_data = transform.data()
    data = container.assemble(
        modality="image",
        signal=signal.description(),
        transform=transform.describe(),
        field_info={"arch": config.arch, "id": FIELDS.by_name(config.arch).id, "config": field_model.config()},
        stages=encoded,
        extra_chunks=[container.transform_data_chunk(transform_data)] if transform_data is not None else (),
        trailing_chunks=[(SEARCH_CHUNK, msgpack.packb(searched.to_json(timings=False)))] if searched else (),
        compression=config.compression,
        encoder={"name": "nfcodec", "version": __version__, "seed": config.seed, "steps": steps, "lr": lr},
    )
    header = container.read_header(data)
    reports = []
    for k, (spec, fit) in enumerate(zip(header.stages, fits), start=1):
        reports.append(
            StageReport(
                index=k,
                width=spec.width,
                params=header.params_at(k),
                new_params=spec.new_params,
                bytes=spec.chunk.length + container.CHUNK_OVERHEAD,
                prefix_bytes=header.prefix_bytes(k),
                psnr=quality[k - 1],
                steps=fit.steps,
                seconds=fit.seconds,
            )
        )
    return EncodeResult(
        data, "image", config.arch, transform.describe(), reports, time.perf_counter() - start, signal.num_points,
        transform_preset=fixed, search=searched,
    )


SEARCH_CHUNK = "srch"  # ancillary: the encoder's transform-search table (msgpack), after the stages


def _search_config(config: EncodeConfig, candidates: tuple[str, ...] | None) -> SearchConfig:
    # an explicit --lr is kept: the search then compares transforms only
    return SearchConfig(
        candidates=candidates, keep_interpolation=config.keep_interpolation, probe_side=config.probe_side,
        seed=config.seed, lr_factors=(1.0,) if config.lr else SearchConfig.lr_factors,
    )


def trained_psnr_offset(transform: Transform, trained: np.ndarray) -> float:
    """dB to add to an original-domain PSNR to get the trained-domain one: exact for affine
    maps and permutations, for gamma from the mean squared slope of the inverse."""
    factor = transform.mse_factor()
    if factor is None:
        factor = inverse_slope_sq(transform, trained)
    return 10.0 * math.log10(factor) if factor > 0 else 0.0


def search_image(
    input_path: str | os.PathLike, config: EncodeConfig | None = None, search_config: SearchConfig | None = None,
    progress: Progress = SILENT,
) -> SearchResult:
    """Run only the transform search an encode would run on an image file."""
    config = config or EncodeConfig()
    signal = read_image(input_path)
    image = signal.values().reshape(signal.height, signal.width, signal.channels)
    search_config = search_config or _search_config(config, None)
    return search_for_encode(image, config, search_config, device=resolve_device(config.device), progress=progress)


def encode(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike | None = None,
    config: EncodeConfig | None = None,
    progress: Progress = SILENT,
) -> EncodeResult:
    """Encode an image file to `.nff` (default: beside the input); the output appears atomically."""
    output = Path(output_path) if output_path else Path(input_path).with_suffix(".nff")
    check_output_path(output)  # fail before minutes of training, not after
    result = encode_image(read_image(input_path), config, progress)
    atomic_write(output, result.data)
    result.output = str(output)
    return result


# ---- decoding ----------------------------------------------------------------------------


@dataclass
class DecodeResult:
    pixels: np.ndarray  # [H, W, C] uint8 / uint16
    width: int  # stages decoded
    widths_available: int
    stages_total: int
    complete: bool
    output: str | None = None
    note: str | None = None  # e.g. "truncated file: decoded width 2 of 4"
    scale: float = 1.0  # the output's size relative to the stored signal

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "width": self.width,
            "widths_available": self.widths_available,
            "stages_total": self.stages_total,
            "complete": self.complete,
            "scale": self.scale,
            "shape": list(self.pixels.shape),
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


def check_scale(scale: float) -> float:
    """`scale` as a float if it is a usable output scale (finite, > 0), else UsageError."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise UsageError(f"--scale must be a finite number > 0, got {scale!r}")
    return float(scale)


def scaled_geometry(geometry: ImageGeometry, scale: float) -> ImageGeometry:
    """The pixel grid `scale` times the stored one (each side rounded half up), within the
    image limits; the field is evaluated at its pixel centres (signals.image.pixel_coords)."""
    scale = check_scale(scale)
    height, width = (int(math.floor(side * scale + 0.5)) for side in (geometry.height, geometry.width))
    if min(height, width) < 1 or max(height, width) > MAX_SIDE or height * width > MAX_PIXELS:
        raise UsageError(f"--scale {scale:g} gives a {height}x{width} image, outside 1..{MAX_SIDE} per side and {MAX_PIXELS} pixels")
    return ImageGeometry(height, width, geometry.channels, geometry.bit_depth)


def decode_bytes(
    data: bytes | bytearray | memoryview, width: int | None = None, strict: bool = False, scale: float = 1.0
) -> DecodeResult:
    """Decode `.nff` bytes (a whole file or a prefix) at `width` stages (default: all present),
    at `scale` times the stored resolution (transforms that preserve interpolation only)."""
    scale = check_scale(scale)  # a bad number fails before any reading
    nff = container.read(data, strict=strict)
    header = nff.header
    MODALITIES.by_name(header.modality)
    if header.modality != "image":
        raise UnknownCodecId(f"modality {header.modality!r} cannot be decoded by this version")
    geometry = ImageGeometry.from_description(header.signal)
    field_model = _field_from_header(header)
    if field_model.in_dim != 2 or field_model.out_dim != geometry.channels:
        raise InvalidHeader("header: field dimensions do not match the image")
    available, total = nff.stages_available, nff.stages_total
    if available == 0:
        raise TruncatedFile(f"truncated file: no complete stage (have {len(data)} of {header.file_size} bytes)")
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
    # Positional transform data is 4 bytes per pixel: refuse a larger declared size unread.
    extra = nff.transform_data(max_bytes=4 * geometry.num_points)
    transform = transform_from_header(header.transform, extra, geometry.num_points, geometry.channels, modality="image")
    if scale != 1.0:
        if not transform.preserves_interpolation:
            raise UsageError(
                f"cannot decode at --scale {scale:g}: this file's transform {transform.name!r} moves pixels, "
                "so the field does not interpolate the image"
            )
        geometry = scaled_geometry(geometry, scale)
    for k in range(1, width + 1):
        field_model.load_stage_tensors(k, nff.stage_tensors(k))
    pixels = render_image(field_model, transform, geometry, width, torch.device("cpu"))
    return DecodeResult(pixels, width, available, total, nff.complete, note=note, scale=float(scale))


def read_nff_bytes(path: str | os.PathLike) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    return path.read_bytes()


def decode(
    nff_path: str | os.PathLike,
    output_path: str | os.PathLike | None = None,
    width: int | None = None,
    strict: bool = False,
    scale: float = 1.0,
) -> DecodeResult:
    """Decode a `.nff` file to a PNG (default: `<name>.decoded.png` beside it)."""
    output = Path(output_path) if output_path else Path(nff_path).with_suffix(".decoded.png")
    check_output_path(output)
    result = decode_bytes(read_nff_bytes(nff_path), width=width, strict=strict, scale=scale)
    write_png(output, result.pixels)
    result.output = str(output)
    return result


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
    data = bytes(chunks[0])
    if len(data) > 1 << 20:
        return {"search_error": "search table larger than 1 MiB, not read"}
    try:
        table = msgpack.unpackb(data, raw=False, max_str_len=1 << 12, max_array_len=1 << 12, max_map_len=1 << 8, max_bin_len=0, max_ext_len=0)
    except Exception as exc:  # ancillary data: any defect is reported, not raised
        return {"search_error": f"unreadable search table ({type(exc).__name__})"}
    if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
        return {"search_error": "malformed search table"}
    return {"search": table["rows"], "search_summary": {k: v for k, v in table.items() if k != "rows"}}
