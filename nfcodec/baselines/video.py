"""Classic video codecs through the ffmpeg that imageio-ffmpeg ships: x264 and x265 (preset
medium, no B-frames, `crf`), SVT-AV1 (preset 8, `crf`) and VVC (vvenc, preset medium, `qp`).

The clip's RGB frames are streamed into ffmpeg's stdin a frame at a time and coded as 4:2:0
(yuv420p asked for; vvenc takes it as 10-bit 4:2:0), as these codecs are used, in an MP4
container (from Matroska, ffmpeg's VVC decoder dropped and shifted frames; from MP4 every codec
here returns every frame). The file is decoded with `VIDEO.read` and measured as the video
modality measures our stages: `VIDEO.quality` (RGB PSNR per frame, the mean over frames) and
`VIDEO.rate` (bits per pixel per frame).
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from . import Baseline, BaselinePoint, ffmpeg_missing


@dataclass(frozen=True)
class FfmpegVideo(Baseline):
    """A video encoder of ffmpeg at one quality option (larger: smaller files, worse quality)."""

    encoder: str = ""  # ffmpeg's name: libx264, libx265, libsvtav1, libvvenc
    option: str = ""  # its quality option: -crf or -qp
    setting_range: tuple[int, int] = (0, 51)  # the option's values, best..worst (for bisection)
    extra: tuple[str, ...] = ()  # further encoder options

    def unavailable(self, signal: Any = None) -> str | None:
        missing = ffmpeg_missing(self.encoder)
        if missing or signal is None:
            return missing
        shape = getattr(getattr(signal, "frames", None), "shape", None)
        if shape is None or len(shape) != 4 or shape[3] != 3:
            return f"not a video signal ({type(signal).__name__})"
        if shape[1] % 2 or shape[2] % 2:
            return f"4:2:0 needs even frame sides; the clip is {shape[2]}x{shape[1]}"
        return None

    def encode(self, signal: Any, setting: float, out: Path) -> int:
        """`signal`'s frames coded into `out` (an .mp4) at `setting`; the file's bytes."""
        t, h, w = signal.frames.shape[:3]
        from ..errors import UsageError
        from ..modalities.video_io import pipe_frames_to_ffmpeg

        cmd = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{signal.fps:g}", "-i", "-",
               "-c:v", self.encoder, self.option, f"{setting:g}", "-pix_fmt", "yuv420p", *self.extra, str(out)]
        try:
            pipe_frames_to_ffmpeg(cmd, signal.frames)  # one frame in memory at a time
        except (OSError, UsageError) as exc:
            raise self.error(setting, f"ffmpeg {self.encoder} failed: {exc}") from None
        if not out.exists():
            raise self.error(setting, f"ffmpeg {self.encoder} wrote nothing")
        return out.stat().st_size

    def run(self, signal: Any, setting: float) -> BaselinePoint:
        from ..errors import NfcError
        from ..modalities.video import VIDEO

        with tempfile.TemporaryDirectory(prefix=f"nfc-{self.name}-") as tmp:
            start = time.perf_counter()
            size = self.encode(signal, setting, Path(tmp) / f"{self.name}_{setting:g}.mp4")
            try:
                decoded = VIDEO.read(Path(tmp) / f"{self.name}_{setting:g}.mp4", {})
            except NfcError as exc:
                raise self.error(setting, f"cannot decode the file ({exc})") from None
            seconds = time.perf_counter() - start
            if decoded.frames.shape != signal.frames.shape:
                raise self.error(setting, f"decoded {decoded.frames.shape}, encoded {signal.frames.shape}: not comparable")
            metrics = VIDEO.quality(signal, iter(decoded.frames))
        return BaselinePoint(self.name, setting, size, VIDEO.rate(size, VIDEO.geometry(signal)), metrics, seconds)


VIDEO_BASELINES = (
    FfmpegVideo("x264", "video", "x264 (medium, no B-frames, crf)", "crf", (43, 38, 33, 28, 23, 18),
                encoder="libx264", option="-crf", setting_range=(0, 51), extra=("-preset", "medium", "-bf", "0")),
    FfmpegVideo("x265", "video", "x265 (medium, no B-frames, crf)", "crf", (43, 38, 33, 28, 23, 18),
                encoder="libx265", option="-crf", setting_range=(0, 51),
                extra=("-preset", "medium", "-x265-params", "bframes=0:log-level=error")),
    FfmpegVideo("svt-av1", "video", "SVT-AV1 (preset 8, crf)", "crf", (58, 50, 42, 34, 26, 18),
                encoder="libsvtav1", option="-crf", setting_range=(1, 63), extra=("-preset", "8")),
    FfmpegVideo("vvc", "video", "VVC (vvenc medium, qp)", "qp", (47, 42, 37, 32, 27, 22),
                encoder="libvvenc", option="-qp", setting_range=(0, 63), extra=("-preset", "medium")),
)
