"""Classic image codecs: JPEG (Pillow, 4:2:0 chroma), WebP (Pillow, method 6), AVIF (Pillow,
speed 6), each at a `quality` 0-100, and JPEG XL (libjxl in the ffmpeg imageio-ffmpeg ships,
effort 7) at a butteraugli `distance` (lower is better).

Measured as the image modality measures our stages: `IMAGE.quality` (PSNR over every sample
of every channel, peak 2^bits - 1) of the decoded image in the source's own channels, and
`IMAGE.rate` (8 x bytes / pixels). Grey, grey+alpha, RGB and RGBA are coded as they are where
the codec carries them (JPEG has no alpha: unavailable; WebP codes grey as RGB, and its decoded
RGB is converted back to grey by Pillow). The PSNR counts the colour under fully transparent
pixels, as it does for our files: WebP is asked to keep it (`exact`), AVIF keeps it, but
ffmpeg's libjxl wrapper cannot ask libjxl to (it has no keep_invisible option), so JPEG XL's
PSNR on an image with fully transparent areas is low for that reason.

JPEG XL codes 16-bit images at 16 bits; the Pillow codecs take 8-bit samples only, so a 16-bit
image is unavailable to them (rather than reduced to 8 bits and measured against a reference
they never saw).
"""
from __future__ import annotations

import io
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import last_words
from . import Baseline, BaselinePoint, ffmpeg_exe, ffmpeg_missing

QUALITIES = (10, 25, 50, 75, 90, 95)  # Pillow's quality, worst first
DISTANCES = (8.0, 4.0, 2.0, 1.0, 0.5, 0.25)  # JPEG XL's butteraugli distance, worst first
PILLOW_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
JXL_PIX_FMTS = {(1, 8): "gray", (2, 8): "ya8", (3, 8): "rgb24", (4, 8): "rgba",
                (1, 16): "gray16le", (2, 16): "ya16le", (3, 16): "rgb48le", (4, 16): "rgba64le"}


def measure(baseline: Baseline, signal: Any, setting: float, size: int, decoded: np.ndarray, seconds: float) -> BaselinePoint:
    """A decoded image measured as the image modality measures our stages."""
    from ..modalities.image import IMAGE

    rate = IMAGE.rate(size, IMAGE.geometry(signal))
    return BaselinePoint(baseline.name, setting, size, rate, IMAGE.quality(signal, [decoded]), seconds)


def not_an_image(signal: Any) -> str | None:
    pixels = getattr(signal, "pixels", None)
    if pixels is None or pixels.ndim != 3 or pixels.shape[2] not in PILLOW_MODES:
        return f"not an image signal ({type(signal).__name__})"
    return None


@dataclass(frozen=True)
class PillowImage(Baseline):
    """An image codec that Pillow writes and reads, at a `quality` 0-100."""

    format: str = ""  # Pillow's format name: JPEG, WEBP, AVIF
    feature: str = ""  # Pillow's name for its support (PIL.features.check): jpg, webp, avif
    alpha: bool = True  # whether the format carries an alpha channel
    max_side: int = 0  # the largest side the format carries (0: no limit worth stating)
    options: tuple[tuple[str, Any], ...] = ()  # Pillow's save options (pairs: the baseline stays hashable)

    def unavailable(self, signal: Any = None) -> str | None:
        try:
            from PIL import features
        except ImportError:
            return "Pillow is not installed (pip install Pillow)"
        codec = self.label.split(" (")[0]  # JPEG, WebP, AVIF
        if not features.check(self.feature):
            return f"this Pillow has no {codec} support"
        if signal is None:
            return None
        if not_an_image(signal):
            return not_an_image(signal)
        if signal.bit_depth != 8:
            return f"{codec} through Pillow takes 8-bit samples; the image is {signal.bit_depth}-bit"
        if not self.alpha and signal.channels in (2, 4):
            return f"{codec} has no alpha channel; the image has one"
        if self.max_side and max(signal.height, signal.width) > self.max_side:
            return f"{codec} carries at most {self.max_side} pixels a side; the image is {signal.width}x{signal.height}"
        return None

    def run(self, signal: Any, setting: float) -> BaselinePoint:
        from PIL import Image

        pixels = signal.pixels
        start = time.perf_counter()
        buffer = io.BytesIO()
        try:
            Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(
                buffer, format=self.format, quality=int(setting), **dict(self.options))
            data = buffer.getvalue()
            with Image.open(io.BytesIO(data)) as image:
                decoded = np.asarray(image.convert(PILLOW_MODES[pixels.shape[2]]))
        except (OSError, ValueError) as exc:
            raise self.error(setting, f"Pillow failed ({type(exc).__name__}: {last_words(str(exc))})") from None
        seconds = time.perf_counter() - start
        return measure(self, signal, setting, len(data), decoded.reshape(pixels.shape), seconds)


@dataclass(frozen=True)
class JpegXL(Baseline):
    """JPEG XL through ffmpeg's libjxl, at a butteraugli distance; 8 or 16 bits, any channels."""

    effort: int = 7

    def unavailable(self, signal: Any = None) -> str | None:
        missing = ffmpeg_missing("libjxl")
        if missing or signal is None:
            return missing
        return not_an_image(signal)

    def run(self, signal: Any, setting: float) -> BaselinePoint:
        pixels = signal.pixels
        height, width, channels = pixels.shape
        pix_fmt = JXL_PIX_FMTS[channels, signal.bit_depth]
        dtype = np.dtype("<u2") if signal.bit_depth == 16 else np.dtype(np.uint8)
        ffmpeg = ffmpeg_exe()
        with tempfile.TemporaryDirectory(prefix="nfc-jxl-") as tmp:
            out = Path(tmp) / "x.jxl"
            start = time.perf_counter()
            self._ffmpeg(setting, [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", pix_fmt,
                                   "-s", f"{width}x{height}", "-i", "-", "-c:v", "libjxl", "-distance", str(setting),
                                   "-effort", str(self.effort), str(out)], np.ascontiguousarray(pixels, dtype).tobytes())
            raw = self._ffmpeg(setting, [ffmpeg, "-loglevel", "error", "-i", str(out), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"])
            seconds = time.perf_counter() - start
            size = out.stat().st_size
        if len(raw) != pixels.size * dtype.itemsize:
            raise self.error(setting, f"ffmpeg decoded {len(raw)} bytes, expected {pixels.size * dtype.itemsize}")
        decoded = np.frombuffer(raw, dtype).reshape(pixels.shape).astype(pixels.dtype)
        return measure(self, signal, setting, size, decoded, seconds)

    def _ffmpeg(self, setting: float, cmd: list[str], data: bytes | None = None) -> bytes:
        try:
            return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
        except subprocess.CalledProcessError as exc:
            raise self.error(setting, f"ffmpeg failed: {last_words(exc.stderr)}") from None


IMAGE_BASELINES = (
    PillowImage("jpeg", "image", "JPEG (Pillow, 4:2:0)", "quality", QUALITIES, format="JPEG", feature="jpg",
                alpha=False, max_side=65535, options=(("subsampling", 2),)),
    PillowImage("webp", "image", "WebP (Pillow, method 6)", "quality", QUALITIES, format="WEBP", feature="webp",
                max_side=16383, options=(("method", 6), ("exact", True))),
    PillowImage("avif", "image", "AVIF (Pillow, speed 6)", "quality", QUALITIES, format="AVIF", feature="avif",
                options=(("speed", 6),)),
    JpegXL("jxl", "image", "JPEG XL (libjxl, effort 7)", "distance", DISTANCES),
)
