"""Video files in and out through the ffmpeg that imageio-ffmpeg ships: what ffmpeg reads, raw
8-bit YUV 4:2:0 (`.yuv`, size and rate from a UVG-style name or given), frames streamed one at a
time; outputs MP4 (libx264), Y4M, raw YUV 4:2:0 or a folder of PNG frames, written atomically."""
from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import signal
import subprocess
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from ..errors import InputError, UsageError, last_words
from ..fsutil import WriteError, atomic_write, check_writable_folder, write_error

# Jockey_1920x1080_120fps_420_8bit_YUV.yuv: the UVG naming (size, rate, 4:2:0, 8 bits)
UVG_NAME = re.compile(r"(?P<w>\d+)x(?P<h>\d+)_(?P<fps>\d+(?:\.\d+)?)fps(?:_(?P<chroma>\d{3}))?(?:_(?P<bits>\d+)bit)?", re.I)
# imageio-ffmpeg warns on every read whose output size (after --resize) differs from the source's
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)
MAX_SIDE = 1 << 14
MAX_FRAMES = 1 << 16
MAX_FRAME_PIXELS = 1 << 26  # a frame is rendered whole: bounded as an image is (formats/annex-video.md)
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
    expected: int | None = None  # frames the container's duration implies (None: unknown)


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
    expected: int | None = None
    if path.suffix.lower() == ".yuv":
        width, height, fps = raw_yuv_layout(path, options)
        input_params = ("-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", f"{width}x{height}", "-framerate", f"{fps:g}")
    else:
        try:
            reader = imageio_ffmpeg.read_frames(str(path))
            meta = next(reader)
            reader.close()
        except (RuntimeError, OSError, StopIteration) as exc:
            raise InputError(f"cannot read {path} as a video ({unreadable_reason(path, exc)})") from None
        width, height = meta["size"]
        fps = float(fps_option or meta.get("fps") or 25.0)
        duration = float(meta.get("duration") or 0.0)  # the container's, 0 when unknown
        if not fps_option and duration > 0:
            expected = round(duration * fps)
    first, stop = parse_frames(options["frames"]) if options.get("frames") else (0, None)
    output_params: tuple[str, ...] = ()
    if options.get("resize"):
        width, height = parse_size(options["resize"], "--resize")
        output_params = ("-vf", f"scale={width}:{height}:flags=area")
    return VideoSource(path, width, height, fps, input_params, output_params, first, stop, expected)


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
    except (RuntimeError, OSError) as exc:  # imageio-ffmpeg: OSError (IOError) when ffmpeg cannot read the file
        raise InputError(f"cannot read {source.path} as a video ({exc.__class__.__name__})") from None
    finally:
        reader.close()


class FrameStore:
    """A clip's frames, [T, H, W, 3] uint8, in an anonymous temporary file: decoded once, then
    read a frame at a time with pread (no mapping, so nothing of the clip stays resident)."""

    def __init__(self, handle: Any, frames: int, height: int, width: int, notes: tuple[str, ...] = ()):
        self._handle = handle  # kept open: the file has no name and disappears with it
        self.shape = (frames, height, width, 3)
        self._frame_bytes = height * width * 3
        self.notes = notes  # what reading found wrong with the input (a truncated file), one line each

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
    if source.width * source.height > MAX_FRAME_PIXELS:  # a decoder would refuse the file
        raise InputError(f"{source.path}: frames of {source.width}x{source.height} exceed {MAX_FRAME_PIXELS} pixels; "
                         "shrink them with --resize WxH")
    with _staging_errors():
        handle = tempfile.TemporaryFile(prefix="nfc-frames-")
    frames = 0
    for frame in iter_frames(source):
        if frames >= MAX_FRAMES:
            raise InputError(f"{source.path}: more than {MAX_FRAMES} frames; select some with --frames A:B")
        with _staging_errors():
            handle.write(frame.tobytes())
        frames += 1
    with _staging_errors():
        handle.flush()
    damage = damaged(source, source.first + frames)
    if frames == 0:
        what = "no frames" if source.first == 0 else f"no frames from frame {source.first} on"
        raise InputError(f"{source.path}: {what}" + (f" decode; it is {damage}" if damage else ""))
    if source.stop is not None and source.first + frames < source.stop:
        if damage:
            raise InputError(f"{source.path} is {damage}: --frames {source.first}:{source.stop} asks for frames that do not decode")
        raise UsageError(f"--frames {source.first}:{source.stop} is outside the clip ({source.first + frames} frames)")
    notes: tuple[str, ...] = ()
    if damage and source.stop is not None:  # every frame asked for decoded
        notes = (f"{source.path} is {damage}, but frames {source.first}:{source.stop} decode",)
    elif damage:
        notes = (f"{source.path} is {damage}: encoding the {frames} frames that decode",)
    return FrameStore(handle, frames, source.height, source.width, notes)


@contextlib.contextmanager
def _staging_errors() -> Iterator[None]:
    """A write to the frame store that fails (a full temporary folder): say where, and how to
    choose another."""
    try:
        yield
    except OSError as exc:
        code = exc.errno or errno.EIO
        raise WriteError(code, f"{exc.strerror or os.strerror(code)} (the clip's decoded frames are staged there; "
                               "TMPDIR chooses the folder)", tempfile.gettempdir()) from None


def damaged(source: VideoSource, decoded: int) -> str | None:
    """How a clip that decoded `decoded` frames (counted from its start) is damaged ("truncated
    (...)", "cut short (...)"), or None:
    ISO media (MP4, MOV) whose boxes declare more bytes than the file holds, or any container
    whose stated duration holds clearly more frames than decoded (the tail is missing)."""
    cut = iso_truncation(source.path)
    if cut is not None:
        return f"truncated ({cut[0]} of the {cut[1]} bytes its boxes declare)"
    if source.expected is None:
        return None
    wanted = source.expected if source.stop is None else min(source.expected, source.stop)
    if decoded + max(2, wanted // 20) < wanted:  # a little slack: durations are rounded
        return f"cut short (its duration says {source.expected} frames, {decoded} decode)"
    return None


ISO_HEADER = 8  # size (u32, big-endian) and type of an ISO media box


def is_iso_media(path: Path) -> bool:
    """Whether the file starts with an `ftyp` box (MP4, MOV, M4V)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(ISO_HEADER)[4:8] == b"ftyp"
    except OSError:
        return False


def iso_truncation(path: Path) -> tuple[int, int] | None:
    """(file bytes, bytes its top-level boxes declare) when an ISO media file (one that starts
    with an `ftyp` box: MP4, MOV, M4V) ends inside a box, else None (also for other files)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if fh.read(ISO_HEADER)[4:8] != b"ftyp":  # not ISO media
                return None
            offset = 0
            while offset + ISO_HEADER <= size:
                fh.seek(offset)
                head = fh.read(16)
                length = int.from_bytes(head[:4], "big")
                if length == 1 and len(head) == 16:  # a 64-bit size follows the type
                    length = int.from_bytes(head[8:16], "big")
                elif length == 0:  # the box runs to the end of the file
                    return None
                if length < ISO_HEADER:
                    return None  # not a box structure: leave the verdict to ffmpeg
                offset += length
    except OSError:
        return None
    return (size, offset) if offset > size else None


def unreadable_reason(path: Path, exc: BaseException) -> str:
    """A short reason from what ffmpeg said about an input it could not open."""
    text = str(exc)
    cut = iso_truncation(path)
    if cut is not None:
        return f"it is truncated: {cut[0]} of the {cut[1]} bytes its boxes declare"
    if "moov atom not found" in text and is_iso_media(path):
        return "its index (the moov box) is missing: the file is truncated or was never finished"
    if "does not contain any stream" in text or "matches no streams" in text:
        return "it holds no video stream"
    if "Invalid data found when processing input" in text or "moov atom not found" in text:
        return "ffmpeg finds no video in it"
    return type(exc).__name__


# ---- writing ---------------------------------------------------------------------------------

OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".mkv": "mp4", ".y4m": "y4m", ".yuv": "yuv"}


def output_format(path: str | os.PathLike, options: Mapping[str, Any]) -> str:
    if options.get("frames_dir"):
        check_frames_dir(Path(options["frames_dir"]))
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
        stream = iter(frames)
        first = next(stream, None)
        if first is None:
            raise UsageError(f"no frames to write to {path}")
        height, width = first.shape[:2]
        if codec == "libx264" and (width % 2 or height % 2):
            raise UsageError(f"cannot write {path}: {how} needs even frame sides, the frames are {width}x{height} "
                             "(--lossless writes RGB, or choose .y4m)")
        cmd = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-",
               "-c:v", codec, "-pix_fmt", pix_fmt, *params, str(tmp)]
        pipe_frames_to_ffmpeg(cmd, itertools.chain([first], stream))
        if not tmp.exists() or tmp.stat().st_size == 0:  # ffmpeg refused (e.g. an odd size for 4:2:0)
            raise UsageError(f"ffmpeg wrote nothing for {path} ({how}, {width}x{height} frames)")

    atomic_write(path, write)
    return how


def pipe_frames_to_ffmpeg(arguments: list[str], frames: Iterable[np.ndarray]) -> None:
    """Run ffmpeg (`arguments` after the executable) on raw frames sent one at a time through
    its stdin, and check how it ended: a full disk or a file-size limit is an OSError (so the
    caller's atomic write reports it in one line), any other failure a UsageError with
    ffmpeg's last words. (imageio-ffmpeg's writer ignores ffmpeg's exit status.)"""
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", *arguments]
    with tempfile.TemporaryFile() as log:  # a file: a chatty ffmpeg cannot fill a pipe and stall
        process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        try:
            for frame in frames:
                process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            pass  # ffmpeg stopped early: its status and log say why
        finally:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
            status = process.wait()
        if status == 0:
            return
        log.seek(0)
        words = log.read().decode(errors="replace")
    if status == -signal.SIGXFSZ or "File too large" in words:
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
    if "No space left on device" in words:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    raise UsageError(f"ffmpeg failed ({last_words(words, f'exit status {status}')})")


def check_frames_dir(folder: Path) -> Path:
    """--frames-dir FOLDER, checked before any work: new or empty, in a folder we may write."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(f"--frames-dir {folder} exists and is not an empty folder")
    parent = folder.parent  # Path("x").parent is Path(".")
    if not parent.is_dir():
        raise UsageError(f"output folder does not exist: {parent}")
    check_writable_folder(parent)
    return parent


def _write_frame_folder(folder: Path, frames: Iterable[np.ndarray]) -> str:
    """frame_000001.png ...; the folder appears whole: written beside it under a hidden name,
    then renamed (so its frames need no atomic write of their own)."""
    from .image import png_bytes

    parent = check_frames_dir(folder)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=parent))
    except OSError as exc:
        raise write_error(folder, exc) from None
    try:
        count = 0
        for count, frame in enumerate(frames, start=1):
            path = tmp / f"frame_{count:06d}.png"
            try:
                path.write_bytes(png_bytes(frame))
            except OSError as exc:
                raise write_error(path, exc) from None
        if folder.exists():
            folder.rmdir()
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return f"{count} PNG frames"
