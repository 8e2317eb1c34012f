"""Images: PNG / JPEG in, PNG out; coordinates and value normalisation (formats/nff.md, "Images").

Values: an integer sample v of bit depth b maps to v / (2^b - 1) in [0, 1]; the decoder maps
back with round(clip(y, 0, 1) * (2^b - 1)). Coordinates: pixel (row i, column j) of an HxW
image is the point ((i + 0.5) / H, (j + 0.5) / W) in [0, 1]^2 (pixel centres).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import InputError, InvalidHeader
from ..fsutil import atomic_write, input_file
from ..schema import require_int, require_int_list
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
        scale = np.float32(1.0 / (2**self.bit_depth - 1))
        return self.pixels.reshape(-1, self.channels).astype(np.float32) * scale

    def description(self) -> dict[str, Any]:
        return image_description(self.height, self.width, self.channels, self.bit_depth)


def image_description(height: int, width: int, channels: int, bit_depth: int) -> dict[str, Any]:
    return {
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

    def to_pixels(self, values: np.ndarray, rows: int | None = None) -> np.ndarray:
        """[rows*W, C] float values in [0, 1] -> [rows, W, C] integers of the image's bit depth
        (rows defaults to the whole image)."""
        peak = 2**self.bit_depth - 1
        ints = np.rint(np.clip(values, 0.0, 1.0) * peak).astype(self.dtype)
        return ints.reshape(rows or self.height, self.width, self.channels)


def pixel_coords(height: int, width: int, rows: slice | None = None) -> np.ndarray:
    """Pixel-centre coordinates in [0, 1]^2, shape [n, 2] float32, (row, column) order."""
    rows = rows or slice(0, height)
    r = (np.arange(height, dtype=np.float64)[rows] + 0.5) / height
    c = (np.arange(width, dtype=np.float64) + 0.5) / width
    grid = np.stack(np.meshgrid(r, c, indexing="ij"), axis=-1)
    return grid.reshape(-1, 2).astype(np.float32)


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
    """Read PNG / JPEG (and other formats imageio reads): 8- or 16-bit, grey, RGB, with alpha."""
    path = check_image_input(path)
    try:
        # Pillow (imageio's PNG backend) reduces 16-bit colour PNGs to 8 bits: read those with pypng.
        pixels = _read_png16(path) if _is_png16(path) else _read_common(path)
    except InputError:
        raise
    except Exception as exc:  # imageio raises many types for non-images
        raise InputError(f"cannot read {path} as an image ({type(exc).__name__}); nfc encodes {ENCODABLE}") from None
    if pixels.ndim == 4 and pixels.shape[0] == 1:
        pixels = pixels[0]
    if pixels.ndim == 4:
        raise InputError(f"{path} holds {pixels.shape[0]} frames (an animation): nfc encodes {ENCODABLE} so far")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in COLOR_BY_CHANNELS:
        raise InputError(f"{path}: unsupported image layout {pixels.shape}")
    if pixels.dtype == np.bool_:
        pixels = pixels.astype(np.uint8) * 255
    if pixels.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{path}: unsupported sample type {pixels.dtype} (8- or 16-bit integers only)")
    height, width = pixels.shape[:2]
    if height * width > MAX_PIXELS or max(height, width) > MAX_SIDE or height * width == 0:
        raise InputError(f"{path}: image size {height}x{width} is out of bounds")
    return ImageSignal(np.ascontiguousarray(pixels), 8 if pixels.dtype == np.uint8 else 16)


def _read_common(path: Path) -> np.ndarray:
    """8-bit formats through imageio; colour models other than grey / RGB (CMYK JPEGs, YCbCr,
    32-bit integer or float modes) are converted by Pillow rather than misread as extra channels."""
    import imageio.v3 as iio

    try:
        from PIL import Image

        with Image.open(path) as probe:
            mode = probe.mode
            if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                return np.asarray(probe.convert("RGB"))
            if mode in ("I", "F"):
                raise InputError(f"{path}: {mode}-mode (32-bit) images are not supported; use 8- or 16-bit")
    except InputError:
        raise
    except Exception:  # not a Pillow format: let imageio try its other plugins
        pass
    return np.asarray(iio.imread(path))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _is_png16(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(26)
    # IHDR data starts at byte 16: width, height (4 bytes each), then the bit depth byte
    return len(head) == 26 and head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR" and head[24] == 16


def _read_png16(path: Path) -> np.ndarray:
    import png

    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    if width * height > MAX_PIXELS:
        raise InputError(f"{path}: image size {height}x{width} is out of bounds")
    flat = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    return flat.reshape(height, width, info["planes"])


def write_png(path: str | os.PathLike, pixels: np.ndarray) -> Path:
    """Write a PNG atomically at the array's bit depth (uint8 -> 8-bit, uint16 -> 16-bit)."""
    height, width, channels = pixels.shape

    def write(tmp: Path) -> None:
        if pixels.dtype == np.uint16:
            import png  # Pillow cannot write 16-bit colour PNGs

            png.from_array(pixels.reshape(height, width * channels), PNG_MODES[channels] + ";16").save(str(tmp))
        else:
            import imageio.v3 as iio

            iio.imwrite(tmp, pixels[:, :, 0] if channels == 1 else pixels, extension=".png")

    return atomic_write(path, write)
