"""Classic codecs of every modality behind one interface, in one table (as CompressAI keeps its
codecs): what `nfc report` and the benchmarks plot next to our rate-distortion curves.

Each `Baseline` encodes a signal (what the modality's `read` returns) at one quality setting,
decodes it, and measures the result exactly the way the modality measures our stages (an
image's or a clip's `modality.quality`, a shape's `mesh_metrics` against `signal.reference`),
with the rate in the modality's unit (`modality.rate`: bits per pixel, per pixel per frame, per
triangle). A codec that cannot run (a missing library or ffmpeg encoder, a signal it cannot
carry) says why in one line (`unavailable`); `sweep` skips it with that reason.

    points, skipped = sweep("image", IMAGE.read("kodim23.png", {}))

Images (`image.py`): JPEG, WebP, AVIF (Pillow), JPEG XL (libjxl in the ffmpeg imageio-ffmpeg
ships). Clips (`video.py`): x264, x265, SVT-AV1, VVC (that ffmpeg). Shapes (`shape.py`): Draco
(DracoPy).
"""
from __future__ import annotations

import functools
import math
import subprocess
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..errors import NfcError, UsageError

MODALITIES = ("image", "video", "shape")


class BaselineError(NfcError):
    """A classic codec failed on a signal (one line: the codec, the setting, the tool's last words)."""


@dataclass(frozen=True)
class BaselinePoint:
    """One encode and decode of a signal by a classic codec."""

    codec: str  # registry name, e.g. "jpeg"
    setting: float  # the quality setting used (JPEG quality, x264 crf, Draco bits, JPEG XL distance)
    bytes: int
    rate: float  # modality.rate(bytes, geometry): bpp; a shape: bits per triangle
    metrics: dict[str, float]  # the keys and conventions the modality reports for our stages
    seconds: float  # encode + decode wall time

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types; a non-finite metric (an exact decode's infinite PSNR) is None."""
        metrics = {k: (float(v) if math.isfinite(v) else None) for k, v in self.metrics.items()}
        return {"codec": self.codec, "setting": self.setting, "bytes": int(self.bytes), "rate": float(self.rate),
                "metrics": metrics, "seconds": float(self.seconds)}


@dataclass(frozen=True)
class Baseline:
    """A classic codec of one modality; subclasses implement `unavailable` and `run`."""

    name: str  # registry name: "jpeg", "webp", "avif", "jxl", "x264", "x265", "svt-av1", "vvc", "draco"
    modality: str  # "image" | "video" | "shape"
    label: str  # for plots and tables, e.g. "JPEG (Pillow, 4:2:0)"
    setting_name: str  # "quality", "crf", "qp", "distance", "bits"
    settings: tuple[float, ...]  # the default sweep, worst quality first

    def unavailable(self, signal: Any = None) -> str | None:
        """None if this codec can run (on `signal`, when given), else the one-line reason."""
        raise NotImplementedError

    def run(self, signal: Any, setting: float) -> BaselinePoint:
        """`signal` encoded at `setting`, decoded and measured; BaselineError if the codec fails."""
        raise NotImplementedError

    def error(self, setting: float, why: str) -> BaselineError:
        return BaselineError(f"{self.name} at {self.setting_name} {setting:g}: {why}")


# ---- ffmpeg (imageio-ffmpeg's binary): JPEG XL and the video codecs --------------------------


@functools.lru_cache(maxsize=None)
def ffmpeg_exe() -> str | None:
    """The ffmpeg imageio-ffmpeg ships (or finds), None without one."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError, OSError):
        return None


@functools.lru_cache(maxsize=None)
def ffmpeg_encoders() -> frozenset[str]:
    """The names of the encoders that ffmpeg was built with (empty without ffmpeg)."""
    exe = ffmpeg_exe()
    if exe is None:
        return frozenset()
    try:
        listing = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return frozenset()
    return frozenset(line.split()[1] for line in listing.splitlines() if len(line.split()) > 1 and line.startswith(" "))


def ffmpeg_missing(encoder: str) -> str | None:
    """Why `encoder` cannot be used (no ffmpeg, or an ffmpeg built without it), or None."""
    if ffmpeg_exe() is None:
        return "ffmpeg is not available (pip install imageio-ffmpeg)"
    if encoder not in ffmpeg_encoders():
        return f"this ffmpeg ({ffmpeg_exe()}) has no {encoder} encoder"
    return None


# ---- the registry ---------------------------------------------------------------------------

# the codec modules subclass Baseline above, so they are imported after it
from .image import IMAGE_BASELINES  # noqa: E402
from .shape import SHAPE_BASELINES  # noqa: E402
from .video import VIDEO_BASELINES  # noqa: E402

BASELINES: dict[str, Baseline] = {b.name: b for b in (*IMAGE_BASELINES, *VIDEO_BASELINES, *SHAPE_BASELINES)}


def baselines_for(modality: str) -> list[Baseline]:
    """The classic codecs of `modality`, in the registry's order; UsageError for an unknown one."""
    if modality not in MODALITIES:
        raise UsageError(f"no classic codecs for modality {modality!r} (known: {', '.join(MODALITIES)})")
    return [b for b in BASELINES.values() if b.modality == modality]


def sweep(modality: str, signal: Any, names: Sequence[str] | None = None,
          settings: Mapping[str, Sequence[float]] | None = None) -> tuple[list[BaselinePoint], dict[str, str]]:
    """Every codec of `modality` (or those `names`) at its default settings (or `settings[name]`),
    on `signal`: the points in registry order then setting order, and {codec: reason} for each
    codec left out, unavailable or failed (a codec that fails part way gives no points)."""
    chosen = baselines_for(modality)
    if names is not None:
        known = {b.name: b for b in chosen}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(f"no {modality} codec {', '.join(map(repr, unknown))} (known: {', '.join(known)})")
        chosen = [known[n] for n in names]
    points: list[BaselinePoint] = []
    skipped: dict[str, str] = {}
    for baseline in chosen:
        reason = baseline.unavailable(signal)
        if reason is not None:
            skipped[baseline.name] = reason
            continue
        try:
            points += [baseline.run(signal, s) for s in (settings or {}).get(baseline.name, baseline.settings)]
        except BaselineError as exc:
            skipped[baseline.name] = str(exc)
    return points, skipped


__all__ = ["BASELINES", "Baseline", "BaselineError", "BaselinePoint", "baselines_for", "sweep"]
