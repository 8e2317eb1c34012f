"""The image modality: PNG / JPEG (and what imageio reads) in, PNG out (formats/annex-image.md).

Values: an integer sample v of bit depth b maps to v / (2^b - 1) in [0, 1]; the decoder maps
back with round(clip(y, 0, 1) * (2^b - 1)). Coordinates: pixel (row i, column j) of an HxW
image is the point ((i + 0.5) / H, (j + 0.5) / W) in [0, 1]^2 (pixel centres).
"""
from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

import torch

from ..errors import InputError, InvalidHeader, UsageError
from ..fsutil import atomic_write, input_file
from ..metrics import psnr_from_mse
from ..schema import require_int, require_int_list
from .base import Domain, Extent, SampledSignalDefaults, extent_lattice, lattice_coords, prefix_extents
from .kinds import ENCODABLE, sniff_kind, unsupported_message

MAX_SIDE = 1 << 15
MAX_PIXELS = 1 << 26
COLOR_BY_CHANNELS = {1: "grey", 2: "grey+alpha", 3: "rgb", 4: "rgba"}


@dataclass(frozen=True)
class ImageSignal:
    pixels: np.ndarray  # [H, W, C] uint8 or uint16
    bit_depth: int

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])

    @property
    def num_points(self) -> int:
        return self.height * self.width

    def values(self) -> np.ndarray:
        """Samples normalised to [0, 1], shape [H*W, C] float32, row-major."""
        return sample_values(self.pixels.reshape(-1, self.channels), self.bit_depth)

    def description(self) -> dict[str, Any]:
        return image_description(self.height, self.width, self.channels, self.bit_depth)


def sample_values(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """Integer samples -> float32 values v * float32(1 / (2^b - 1)) in [0, 1], scaled in
    place: one float copy of the samples, the same numbers as the product."""
    values = samples.astype(np.float32)
    values *= np.float32(1.0 / (2**bit_depth - 1))
    return values


BLOCK_SAMPLES = 1 << 18  # samples per block when a pass over the pixels goes block by block (a few MB)
EXACT_MEAN_POINTS = 1 << 22  # a streamed image up to this many pixels gets the full-batch path's exact mean


def _row_blocks(pixels: np.ndarray) -> Iterator[slice]:
    rows = max(1, BLOCK_SAMPLES // max(1, pixels[:1].size))
    return (slice(r, r + rows) for r in range(0, pixels.shape[0], rows))


def sum_squared_error(reference: np.ndarray, decoded: np.ndarray) -> int:
    """The exact sum of squared differences of two integer images, block by block of rows (no
    float copy of either): divided by the sample count, the MSE metrics.mse computes."""
    if reference.shape != decoded.shape:
        raise ValueError(f"decoded image {decoded.shape} against a reference of {reference.shape}")
    total = 0
    for rows in _row_blocks(reference):
        diff = (reference[rows].astype(np.int64) - decoded[rows]).reshape(-1)
        total += int(np.dot(diff, diff))
    return total


def is_constant(pixels: np.ndarray) -> bool:
    """Whether every pixel equals the first, block by block of rows."""
    first = pixels[0, 0]
    return all(bool(np.all(pixels[rows] == first)) for rows in _row_blocks(pixels))


SCHEMA, SCHEMA_VERSION = "image", 1
RENDER_BLOCK_POINTS = 1 << 16
TINY_SIDE = 8  # a field pays a fixed cost (MLP, coarse levels) that a signal this small cannot repay


def image_description(height: int, width: int, channels: int, bit_depth: int) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "shape": [height, width],
        "channels": channels,
        "color": COLOR_BY_CHANNELS[channels],
        "bit_depth": bit_depth,
        "value_range": [0, 2**bit_depth - 1],
        "coords": "pixel-centre",
    }


@dataclass(frozen=True)
class ImageGeometry:
    """A validated image description read from a header (no pixels)."""

    height: int
    width: int
    channels: int
    bit_depth: int

    @classmethod
    def from_description(cls, desc: Mapping[str, Any]) -> "ImageGeometry":
        where = "header.signal"
        check_schema(desc, where)
        height, width = require_int_list(desc, "shape", 2, 1, MAX_SIDE, where)
        if height * width > MAX_PIXELS:
            raise InvalidHeader(f"{where}: image size {height}x{width} is out of bounds")
        channels = require_int(desc, "channels", 1, 4, where)
        bit_depth = require_int(desc, "bit_depth", 8, 16, where)
        if bit_depth not in (8, 16):
            raise InvalidHeader(f"{where}: unsupported bit depth {bit_depth}")
        return cls(height, width, channels, bit_depth)

    @property
    def num_points(self) -> int:
        return self.height * self.width

    @property
    def dtype(self) -> type:
        return np.uint8 if self.bit_depth == 8 else np.uint16

    def to_pixels(self, values: np.ndarray, rows: int, columns: int) -> np.ndarray:
        """[rows*columns, C] float values in [0, 1] -> [rows, columns, C] integers of the
        image's bit depth."""
        peak = 2**self.bit_depth - 1
        ints = np.rint(np.clip(values, 0.0, 1.0) * peak).astype(self.dtype)
        return ints.reshape(rows, columns, self.channels)


def check_schema(desc: Mapping[str, Any], where: str) -> None:
    """A description names its schema; files written before schemas (format 1.0 vectors)
    have none and are image schema 1. A reader refuses a schema it does not know."""
    schema = desc.get("schema", SCHEMA)
    version = desc.get("schema_version", SCHEMA_VERSION)
    if schema != SCHEMA or not isinstance(version, int) or isinstance(version, bool):
        raise InvalidHeader(f"{where}: schema {schema!r} version {version!r} is not an image description")
    if version != SCHEMA_VERSION:
        raise InvalidHeader(f"{where}: image schema version {version} is not supported (this reader knows {SCHEMA_VERSION})")


def pixel_coords(height: int, width: int, rows: slice | None = None) -> np.ndarray:
    """Pixel-centre coordinates in [0, 1]^2, shape [n, 2] float32, (row, column) order."""
    return lattice_coords((height, width), rows)


def check_image_input(path: str | os.PathLike) -> Path:
    """A cheap look before reading: a non-empty file that is not a video, mesh or .nff."""
    path = input_file(path)
    if path.stat().st_size == 0:
        raise InputError(f"empty file: {path}")
    unsupported = unsupported_message(path, sniff_kind(path))
    if unsupported:
        raise InputError(unsupported)
    return path


def read_image(path: str | os.PathLike) -> ImageSignal:
    """Read PNG / JPEG (and other formats imageio reads): 8- or 16-bit, grey, RGB, with alpha,
    turned upright as its EXIF orientation says (what viewers display). An animation, an image
    without pixels or in 32-bit / float samples gets a one-line InputError."""
    path = check_image_input(path)
    png = _png_header(path)
    if png is not None:  # from its IHDR, before Pillow (which calls a 0-pixel PNG unidentified)
        _check_size(path, png[0], png[1])
    try:
        opened = _open_with_pillow(path)
        if opened is not None:  # the size Pillow read from the header: refused before decoding
            _check_size(path, *opened.size)
        # Pillow (imageio's PNG backend) reduces 16-bit colour PNGs to 8 bits: read those with pypng.
        pixels = _read_png16(path) if png is not None and png[2] == 16 else _read_common(path, opened)
    except InputError:
        raise
    except Exception as exc:  # imageio raises many types for non-images
        raise InputError(f"cannot read {path} as an image ({type(exc).__name__}); nfc encodes {ENCODABLE}") from None
    if pixels.ndim == 4 and pixels.shape[0] == 1:
        pixels = pixels[0]
    if pixels.ndim == 4:
        raise InputError(_animation(path, pixels.shape[0]))
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in COLOR_BY_CHANNELS:
        raise InputError(f"{path}: unsupported image layout {pixels.shape}")
    if pixels.dtype == np.bool_:
        pixels = pixels.astype(np.uint8) * 255
    if pixels.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{path}: unsupported sample type {pixels.dtype} (8- or 16-bit integers only)")
    _check_size(path, pixels.shape[1], pixels.shape[0])
    pixels = ORIENTATIONS.get(opened.orientation if opened else 1, lambda a: a)(pixels)
    return ImageSignal(np.ascontiguousarray(pixels), 8 if pixels.dtype == np.uint8 else 16)


def _check_size(path: Path, width: int, height: int) -> None:
    if width * height == 0:
        raise InputError(f"{path}: the image has no pixels ({width} wide, {height} high)")
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise InputError(f"{path}: a {width}x{height} image is too large: nfc encodes at most {MAX_PIXELS:,} pixels "
                         f"and {MAX_SIDE:,} a side; split it into tiles")


def _animation(path: Path, frames: int) -> str:
    return f"{path} holds {frames} frames (an animation): nfc encodes {ENCODABLE}; convert it to a video file"


# EXIF orientation (tag 0x0112) -> the array as displayed: 2 mirrored, 3 rotated 180 degrees,
# 4 flipped, 5 transposed, 6 rotated 90 clockwise, 7 transversed, 8 rotated 90 counter-clockwise
# (PIL.ImageOps.exif_transpose's table, on [H, W, ...] arrays)
ORIENTATION_TAG = 0x0112
ORIENTATIONS = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


@dataclass(frozen=True)
class PillowInfo:
    """What Pillow says about a file without decoding its pixels."""

    mode: str
    orientation: int  # EXIF orientation, 1 (as stored) to 8
    size: tuple[int, int]  # width, height as stored


ANIMATED_FORMATS = ("GIF", "PNG", "WEBP")  # Pillow's names; a phone's MPO JPEG also has frames: the photo, then previews


def _open_with_pillow(path: Path) -> PillowInfo | None:
    """The file's mode and EXIF orientation (None when Pillow does not read the format); an
    animation (GIF, APNG, WebP) is refused here, before its frames are decoded."""
    from PIL import Image

    try:
        with warnings.catch_warnings():  # Pillow's bomb warning: the size is checked by the caller
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.format in ANIMATED_FORMATS and getattr(image, "is_animated", False):
                    raise InputError(_animation(path, int(getattr(image, "n_frames", 2))))
                return PillowInfo(image.mode, _orientation(image), image.size)
    except InputError:
        raise
    except Image.DecompressionBombError:  # over twice Pillow's own limit, far past ours
        raise InputError(f"{path}: the image is too large: nfc encodes at most {MAX_PIXELS:,} pixels; split it into tiles") from None
    except Exception:  # not a Pillow format: imageio may read it with another plugin
        return None


def _orientation(image: Any) -> int:
    # A PNG's eXIf chunk is read with the chunks before the pixels; Pillow would decode the
    # whole image to look for one after them, which writers do not put there.
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # a malformed EXIF block: the pixels as stored
        return 1
    return value if value in ORIENTATIONS else 1


def _read_common(path: Path, opened: PillowInfo | None) -> np.ndarray:
    """8-bit formats through imageio; colour models other than grey / RGB (CMYK JPEGs, YCbCr,
    32-bit integer or float modes) are converted by Pillow rather than misread as extra channels."""
    import imageio.v3 as iio

    if opened is not None:
        if opened.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            from PIL import Image

            with Image.open(path) as image:
                return np.asarray(image.convert("RGB"))
        if opened.mode in ("I", "F"):
            kind = "32-bit floating-point" if opened.mode == "F" else "32-bit integer"
            raise InputError(f"{path}: {opened.mode}-mode ({kind}) samples are not supported; use 8- or 16-bit integers")
    return np.asarray(iio.imread(path))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _png_header(path: Path) -> tuple[int, int, int] | None:
    """(width, height, bit depth) from a PNG's IHDR, or None for any other file."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    # IHDR data starts at byte 16: width, height (4 bytes each), then the bit depth byte
    if len(head) != 26 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"), head[24]


def _read_png16(path: Path) -> np.ndarray:
    import png

    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    _check_size(path, width, height)
    flat = np.empty((height, width * info["planes"]), np.uint16)  # filled row by row: one copy of the pixels
    count = 0
    for count, row in enumerate(rows, start=1):
        flat[count - 1] = row
    if count != height:
        raise InputError(f"{path}: the PNG holds {count} of its {height} rows")
    return flat.reshape(height, width, info["planes"])


def png_bytes(pixels: np.ndarray) -> bytes:
    """A PNG of [H, W, C] pixels at their bit depth (uint8 -> 8-bit, uint16 -> 16-bit), in memory
    (no larger than the pixels)."""
    height, width, channels = pixels.shape
    if pixels.dtype == np.uint16:
        import png  # Pillow cannot write 16-bit colour PNGs

        buffer = io.BytesIO()
        png.from_array(pixels.reshape(height, width * channels), PNG_MODES[channels] + ";16").write(buffer)
        return buffer.getvalue()
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", pixels[:, :, 0] if channels == 1 else pixels, extension=".png")


def write_png(path: str | os.PathLike, pixels: np.ndarray) -> Path:
    """Write a PNG atomically. Made in memory and written by atomic_write, so a failed write is
    its one-line error (imageio's PNG plugin, writing the file itself, retries a failed flush
    when collected and prints a second, ignored traceback)."""
    return atomic_write(path, png_bytes(pixels))


class PixelValues:
    """An image's trained values computed on demand from its integer pixels, for streamed
    mini-batches (train.samplers.LatticeSampler): nothing per pixel is kept besides the pixels,
    so memory follows the batch, not the image.

    The values equal those the full-batch path computes (sample_values, then the transform):
    a pointwise transform maps each value alone; a positional one is read through its
    permutation (trained position p holds original pixel perm[p]). Indices are flat, C order,
    over the part `extent` covers."""

    def __init__(self, signal: ImageSignal, transform: Any, extent: Extent | None = None):
        self.signal, self.transform = signal, transform
        self.pixels = signal.pixels.reshape(-1, signal.channels)  # a view: the pixels, flat
        (self.r0, self.r1), (self.c0, self.c1) = extent or ((0, signal.height), (0, signal.width))
        self.part = (self.r0, self.r1, self.c0, self.c1) != (0, signal.height, 0, signal.width)

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        """[len(idx), C] float32 values at flat indices `idx` of the part."""
        if self.part:
            rows, columns = np.divmod(idx, self.c1 - self.c0)
            idx = (rows + self.r0) * self.signal.width + (columns + self.c0)
        if self.transform.moves_positions:
            return sample_values(self.pixels[self.transform.inverse_positions(idx)], self.signal.bit_depth)
        return self.transform.forward(sample_values(self.pixels[idx], self.signal.bit_depth))

    def mean(self, device: torch.device) -> torch.Tensor:
        """[C] float32 mean of the part's values. Up to EXACT_MEAN_POINTS pixels, torch's mean of
        them all, as the full-batch path computes it (so encodes of such images keep their
        bytes; a transient float copy of at most 64 MB); beyond, summed in float64 block by block
        of rows and rounded once (it may differ from torch's float32 sum in the last bit)."""
        part = self.signal.pixels[self.r0 : self.r1, self.c0 : self.c1]
        if part.shape[0] * part.shape[1] <= EXACT_MEAN_POINTS:
            # (a positional transform only comes with the whole image: its values, moved)
            values = self.transform.forward(sample_values(part.reshape(-1, self.signal.channels), self.signal.bit_depth))
            return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).to(device).mean(dim=0)
        total = np.zeros(self.signal.channels, np.float64)
        for rows in _row_blocks(part):
            values = sample_values(part[rows].reshape(-1, self.signal.channels), self.signal.bit_depth)
            if not self.transform.moves_positions:  # a permutation keeps the mean
                values = self.transform.forward(values)
            total += values.sum(axis=0, dtype=np.float64)
        return torch.from_numpy((total / (part.shape[0] * part.shape[1])).astype(np.float32)).to(device)


def render_image(field_model: Any, transform: Any, geometry: ImageGeometry, stage: int, device: torch.device,
                 extent: Extent | None = None) -> np.ndarray:
    """The image at stage count `stage` over `extent` (spatial growth: the columns the stage
    covers; None: all): the field evaluated in blocks of rows into a preallocated array, so
    memory stays near the output's size.

    A pointwise transform is inverted block by block. A positional one (a permutation) needs the
    whole image (files with partial extents have none): the trained-domain image is rendered to
    samples first, then its samples are moved back (rounding commutes with moving samples, so
    this equals permuting floats)."""
    from ..train import predict_lattice

    lattice = extent_lattice((geometry.height, geometry.width), extent)
    height, width = lattice.shape
    out = np.empty((height, width, geometry.channels), dtype=geometry.dtype)
    pointwise = not transform.moves_positions
    r0 = 0
    for block in lattice.split(RENDER_BLOCK_POINTS):
        r1 = r0 + block.shape[0]
        values = predict_lattice(field_model, block, stage, device, chunk=RENDER_BLOCK_POINTS).cpu().numpy()
        out[r0:r1] = geometry.to_pixels(transform.inverse(values) if pointwise else values, r1 - r0, width)
        r0 = r1
    if pointwise:
        return out
    return transform.inverse(out.reshape(-1, geometry.channels)).reshape(out.shape)


class ImageModality(SampledSignalDefaults):
    """2-D images, grey / RGB with optional alpha, 8 or 16 bits per sample."""

    name = "image"
    schema = SCHEMA
    schema_version = SCHEMA_VERSION
    # every registered transform: pointwise maps and permutations of a 2-D pixel grid
    transforms = frozenset({"identity", "invert", "rpp", "ordered", "affine", "gamma", "standardise"})
    rate_unit = "bpp"
    output_suffixes = (".png",)
    # spectral: finer levels and wider MLPs, every stage covers the image; spatial: stage k
    # covers the first k/K of the columns (the paper's image experiment)
    growth = frozenset({"spectral", "spatial"})
    read_options: frozenset[str] = frozenset()
    write_options: frozenset[str] = frozenset()
    headline = "psnr"
    conventions = {"psnr": "dB over every sample and channel, peak 2^bits - 1, of the decoded integers"}

    def accepts(self, path: Path) -> bool:
        return sniff_kind(path) == "other"

    def check_input(self, path: str | os.PathLike, options: Mapping[str, Any]) -> Path:
        return check_image_input(path)

    def read(self, path: str | os.PathLike, options: Mapping[str, Any]) -> ImageSignal:
        return read_image(path)

    def geometry(self, signal: ImageSignal) -> ImageGeometry:
        return ImageGeometry(signal.height, signal.width, signal.channels, signal.bit_depth)

    def describe(self, geometry: ImageGeometry) -> dict[str, Any]:
        return image_description(geometry.height, geometry.width, geometry.channels, geometry.bit_depth)

    def from_description(self, desc: Mapping[str, Any]) -> ImageGeometry:
        return ImageGeometry.from_description(desc)

    def domain(self, geometry: ImageGeometry) -> Domain:
        return Domain(("y", "x"), (geometry.height, geometry.width))

    def search_lattice(self, signal: ImageSignal) -> np.ndarray:
        return signal.values().reshape(signal.height, signal.width, signal.channels)

    def stage_extents(self, geometry: ImageGeometry, stages: int, grow: str) -> list[Extent | None]:
        if grow == "spectral":
            return [None] * stages
        if grow != "spatial":
            raise UsageError(f"--grow {grow}: images grow spectral or spatial")
        if stages > geometry.width:
            raise UsageError(f"--grow spatial: {stages} stages need at least {stages} columns, the image has {geometry.width}")
        return prefix_extents((geometry.height, geometry.width), stages, axis=1)

    def sampler(self, signal: ImageSignal, transform: Any, batch_size: int, device: torch.device,
                extent: Extent | None = None) -> Any:
        """The full batch when the image (or the part `extent` covers) has at most `batch_size`
        pixels, else mini-batches streamed from the integer pixels (PixelValues): memory then
        follows the batch, not the image."""
        from ..train.samplers import InMemorySampler, LatticeSampler

        lattice = extent_lattice((signal.height, signal.width), extent)
        if lattice.num_points > batch_size:
            values = PixelValues(signal, transform, extent)
            return LatticeSampler(lattice, values, values.mean(device), batch_size, device)
        if extent is None:
            # a positional transform moves samples across the whole image: transform it whole
            values = transform.forward(signal.values())
        else:  # a part: only pointwise transforms are admitted (codec.admitted_transforms)
            (r0, r1), (c0, c1) = extent
            values = transform.forward(sample_values(signal.pixels[r0:r1, c0:c1].reshape(-1, signal.channels), signal.bit_depth))
        target = np.ascontiguousarray(values.reshape(-1, signal.channels), dtype=np.float32)
        coords = torch.from_numpy(lattice.coords()).to(device)
        return InMemorySampler(coords, torch.from_numpy(target).to(device), batch_size, lattice)

    def render(self, field: Any, transform: Any, geometry: ImageGeometry, stage: int, device: torch.device,
               extent: Extent | None = None) -> Iterator[np.ndarray]:
        yield render_image(field, transform, geometry, stage, device, extent)

    def quality(self, signal: ImageSignal, blocks: Iterable[np.ndarray], extent: Extent | None = None) -> dict[str, float]:
        (decoded,) = blocks
        reference = signal.pixels
        if extent is not None:  # spatial growth: the strip the stage covers
            (r0, r1), (c0, c1) = extent
            reference = reference[r0:r1, c0:c1]
        error = sum_squared_error(reference, decoded) / reference.size
        return {"psnr": psnr_from_mse(error, peak=2**signal.bit_depth - 1)}

    def raw_bytes(self, geometry: ImageGeometry) -> int:
        return geometry.num_points * geometry.channels * (geometry.bit_depth // 8)

    def rate(self, file_bytes: int, geometry: ImageGeometry) -> float:
        return file_bytes * 8 / geometry.num_points

    def rescale(self, geometry: ImageGeometry, scale: float) -> ImageGeometry:
        """The pixel grid `scale` times the stored one (each side rounded half up), within the
        image limits; the field is evaluated at its pixel centres."""
        height, width = (int(math.floor(side * scale + 0.5)) for side in (geometry.height, geometry.width))
        if min(height, width) < 1 or max(height, width) > MAX_SIDE or height * width > MAX_PIXELS:
            raise UsageError(f"--scale {scale:g} gives a {height}x{width} image, outside 1..{MAX_SIDE} per side and {MAX_PIXELS} pixels")
        return ImageGeometry(height, width, geometry.channels, geometry.bit_depth)

    def check_output(self, path: str | os.PathLike, options: Mapping[str, Any]) -> None:
        pass  # a PNG, whatever the suffix

    def write(self, path: str | os.PathLike, blocks: Iterable[np.ndarray], geometry: ImageGeometry,
              options: Mapping[str, Any]) -> str:
        (pixels,) = blocks
        write_png(path, pixels)
        return ""

    def warnings(self, signal: ImageSignal) -> list[str]:
        warnings = []
        if min(signal.height, signal.width) < TINY_SIDE:
            warnings.append(f"the image is tiny ({signal.width}x{signal.height}): a neural field's fixed size dominates; "
                            "a PNG stores it in fewer bytes")
        if signal.num_points > 1 and is_constant(signal.pixels):
            warnings.append("the image is one constant colour: a PNG stores it in a few bytes")
        return warnings


IMAGE = ImageModality()
