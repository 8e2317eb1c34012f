"""Video files in and out through the ffmpeg that imageio-ffmpeg ships: what ffmpeg reads, raw
8-bit YUV 4:2:0 (`.yuv`, size and rate from a UVG-style name or given), frames streamed one at a
time; outputs MP4 (libx264), Y4M, raw YUV 4:2:0 or a folder of PNG frames, written atomically."""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from ..errors import InputError, UsageError
from ..fsutil import atomic_write

# Jockey_1920x1080_120fps_420_8bit_YUV.yuv: the UVG naming (size, rate, 4:2:0, 8 bits)
UVG_NAME = re.compile(r"(?P<w>\d+)x(?P<h>\d+)_(?P<fps>\d+(?:\.\d+)?)fps(?:_(?P<chroma>\d{3}))?(?:_(?P<bits>\d+)bit)?", re.I)
# imageio-ffmpeg warns on every read whose output size (after --resize) differs from the source's
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)
MAX_SIDE = 1 << 14
MAX_FRAMES = 1 << 16
DEFAULT_CRF = 17  # libx264: visually lossless at yuv420p


@dataclass(frozen=True)
class VideoSource:
    """How to read one input: the ffmpeg input options, and what comes out."""

    path: Path
    width: int  # of the frames delivered (after --resize)
    height: int
    fps: float
    input_params: tuple[str, ...] = ()
    output_params: tuple[str, ...] = ()
    first: int = 0  # --frames A:B: frames [first, stop) of the clip
    stop: int | None = None


def parse_size(text: str, option: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not m or not all(0 < int(v) <= MAX_SIDE for v in m.groups()):
        raise UsageError(f"{option} must be WIDTHxHEIGHT with sides 1..{MAX_SIDE}, got {text!r}")
    width, height = int(m.group(1)), int(m.group(2))
    if width % 2 or height % 2:
        raise UsageError(f"{option} must have even sides (4:2:0 video), got {width}x{height}")
    return width, height


def parse_frames(text: str) -> tuple[int, int | None]:
    """'A:B' (frames A..B-1), 'A:' (from A), ':B'; 0-based."""
    m = re.fullmatch(r"\s*(\d*)\s*:\s*(\d*)\s*", text or "")
    if not m or (m.group(1) == "" and m.group(2) == ""):
        raise UsageError(f"--frames must be A:B (0-based, B excluded), A: or :B, got {text!r}")
    first = int(m.group(1) or 0)
    stop = int(m.group(2)) if m.group(2) else None
    if stop is not None and stop <= first:
        raise UsageError(f"--frames {text}: the range is empty")
    return first, stop


def raw_yuv_layout(path: Path, options: Mapping[str, Any]) -> tuple[int, int, float]:
    """Width, height and rate of a raw 8-bit YUV 4:2:0 file: --size/--fps, else its UVG name."""
    m = UVG_NAME.search(path.name)
    if options.get("size"):
        width, height = parse_size(options["size"], "--size")
    elif m:
        width, height = int(m.group("w")), int(m.group("h"))
        if (m.group("chroma") or "420") != "420" or (m.group("bits") or "8") != "8":
            raise InputError(f"{path.name}: only 8-bit 4:2:0 raw YUV is read (the name says {m.group('chroma')} / {m.group('bits')} bit)")
    else:
        raise UsageError(f"{path.name}: a raw .yuv file needs --size WxH (and --fps F), or a name like Clip_1920x1080_120fps_420_8bit_YUV.yuv")
    fps = float(options["fps"]) if options.get("fps") else (float(m.group("fps")) if m else 25.0)
    frame_bytes = width * height * 3 // 2
    size = path.stat().st_size
    if size % frame_bytes:
        raise InputError(f"{path.name}: {size} bytes is not a whole number of {width}x{height} 4:2:0 frames ({frame_bytes} bytes each)")
    return width, height, fps


def probe_source(path: Path, options: Mapping[str, Any]) -> VideoSource:
    """What reading `path` with `options` gives (size, rate), without decoding the clip."""
    import imageio_ffmpeg

    fps_option = options.get("fps")
    if fps_option is not None and not (0 < float(fps_option) <= 1000):
        raise UsageError(f"--fps must be in (0, 1000], got {fps_option}")
    input_params: tuple[str, ...] = ()
    if path.suffix.lower() == ".yuv":
        width, height, fps = raw_yuv_layout(path, options)
        input_params = ("-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", f"{width}x{height}", "-framerate", f"{fps:g}")
    else:
        try:
            reader = imageio_ffmpeg.read_frames(str(path))
            meta = next(reader)
            reader.close()
        except (RuntimeError, OSError, StopIteration) as exc:
            raise InputError(f"cannot read {path} as a video ({type(exc).__name__})") from None
        width, height = meta["size"]
        fps = float(fps_option or meta.get("fps") or 25.0)
    first, stop = parse_frames(options["frames"]) if options.get("frames") else (0, None)
    output_params: tuple[str, ...] = ()
    if options.get("resize"):
        width, height = parse_size(options["resize"], "--resize")
        output_params = ("-vf", f"scale={width}:{height}:flags=area")
    return VideoSource(path, width, height, fps, input_params, output_params, first, stop)


def iter_frames(source: VideoSource) -> Iterator[np.ndarray]:
    """The selected frames as [H, W, 3] uint8 arrays, one at a time (ffmpeg decodes lazily)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(source.path), input_params=list(source.input_params),
                                        output_params=list(source.output_params))
    try:
        next(reader)  # metadata
        for index, raw in enumerate(reader):
            if source.stop is not None and index >= source.stop:
                break
            if index >= source.first:
                yield np.frombuffer(raw, np.uint8).reshape(source.height, source.width, 3)
    except RuntimeError as exc:
        raise InputError(f"cannot read {source.path} as a video ({exc.__class__.__name__})") from None
    finally:
        reader.close()


class FrameStore:
    """A clip's frames, [T, H, W, 3] uint8, in an anonymous temporary file: decoded once, then
    read a frame at a time with pread (no mapping, so nothing of the clip stays resident)."""

    def __init__(self, handle: Any, frames: int, height: int, width: int):
        self._handle = handle  # kept open: the file has no name and disappears with it
        self.shape = (frames, height, width, 3)
        self._frame_bytes = height * width * 3

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        index = int(index)
        if not 0 <= index < self.shape[0]:
            raise IndexError(f"frame {index} of {self.shape[0]}")
        raw = os.pread(self._handle.fileno(), self._frame_bytes, index * self._frame_bytes)
        return np.frombuffer(raw, np.uint8).reshape(self.shape[1:])

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[t] for t in range(self.shape[0]))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """Every frame in memory at once: for small clips and tests only."""
        frames = np.stack(list(self))
        return frames if dtype is None else frames.astype(dtype)


def read_frames_to_store(source: VideoSource) -> FrameStore:
    """Every selected frame, decoded once into a FrameStore."""
    handle = tempfile.TemporaryFile(prefix="nfc-frames-")
    frames = 0
    for frame in iter_frames(source):
        if frames >= MAX_FRAMES:
            raise InputError(f"{source.path}: more than {MAX_FRAMES} frames; select some with --frames A:B")
        handle.write(frame.tobytes())
        frames += 1
    if frames == 0:
        what = "no frames" if source.first == 0 else f"no frames from frame {source.first} on"
        raise InputError(f"{source.path}: {what}")
    if source.stop is not None and source.first + frames < source.stop:
        raise UsageError(f"--frames {source.first}:{source.stop} is outside the clip ({source.first + frames} frames)")
    handle.flush()
    return FrameStore(handle, frames, source.height, source.width)


# ---- writing ---------------------------------------------------------------------------------

OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".mkv": "mp4", ".y4m": "y4m", ".yuv": "yuv"}


def output_format(path: str | os.PathLike, options: Mapping[str, Any]) -> str:
    if options.get("frames_dir"):
        return "frames"
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise UsageError(f"a video decodes to .mp4, .y4m or .yuv (or --frames-dir DIR), not {suffix or 'no suffix'}")
    crf = options.get("crf")
    if crf is not None and not 0 <= int(crf) <= 51:
        raise UsageError(f"--crf must be 0..51, got {crf}")
    return OUTPUT_FORMATS[suffix]


def write_frames(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, options: Mapping[str, Any]) -> str:
    """Write frames atomically; returns how (codec and quality). The decoded frames' quality
    is measured before any lossy output codec."""
    kind = output_format(path, options)
    if kind == "frames":
        return _write_frame_folder(Path(options["frames_dir"]), frames)
    if kind == "mp4":
        if options.get("lossless"):
            codec, params, how = "libx264rgb", ["-qp", "0", "-preset", "medium"], "libx264rgb, lossless (qp 0, RGB)"
            pix_fmt = "rgb24"
        else:
            crf = int(options.get("crf") if options.get("crf") is not None else DEFAULT_CRF)
            codec, params, how = "libx264", ["-crf", str(crf), "-preset", "medium"], f"libx264, crf {crf}, yuv420p"
            pix_fmt = "yuv420p"
    else:
        codec, pix_fmt = "rawvideo", "yuv420p"
        params = ["-f", "yuv4mpegpipe" if kind == "y4m" else "rawvideo"]
        how = "Y4M, 4:2:0" if kind == "y4m" else "raw 8-bit YUV 4:2:0"

    def write(tmp: Path) -> None:
        import imageio_ffmpeg

        writer = None
        for frame in frames:
            if writer is None:
                height, width = frame.shape[:2]
                writer = imageio_ffmpeg.write_frames(
                    str(tmp), (width, height), pix_fmt_in="rgb24", pix_fmt_out=pix_fmt, fps=fps, codec=codec,
                    quality=None, macro_block_size=1, output_params=params, ffmpeg_log_level="error",
                )
                writer.send(None)
            writer.send(np.ascontiguousarray(frame).tobytes())
        if writer is not None:
            writer.close()
        if not tmp.exists() or tmp.stat().st_size == 0:  # ffmpeg refused (e.g. an odd size for 4:2:0)
            raise UsageError(f"ffmpeg wrote nothing for {path} ({how}, {width}x{height} frames)")

    atomic_write(path, write)
    return how


def _write_frame_folder(folder: Path, frames: Iterable[np.ndarray]) -> str:
    """frame_000001.png ...; the folder appears whole (written beside it, then renamed)."""
    from .image import write_png

    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(f"--frames-dir {folder} exists and is not an empty folder")
    parent = folder.parent if str(folder.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output folder does not exist: {parent}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=parent))
    try:
        count = 0
        for count, frame in enumerate(frames, start=1):
            write_png(tmp / f"frame_{count:06d}.png", frame)
        if folder.exists():
            folder.rmdir()
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return f"{count} PNG frames"
