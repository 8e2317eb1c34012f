"""The video modality: clips as fields over (t, y, x) (formats/annex-video.md).

Frames are decoded once into a temporary file and read from there a frame at a time, a few
frames per training step, so memory stays bounded whatever the clip's length; decoding renders and
writes one frame at a time. Quality is PSNR in RGB per frame, averaged over frames (the INR
literature's UVG convention); the rate is bits per pixel per frame.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import torch

from ..errors import InvalidHeader, UsageError
from ..metrics import mse, psnr_from_mse
from ..schema import require_int, require_int_list
from ..fields.base import Lattice
from ..train.samplers import Batch
from .base import Domain, Extent, SampledSignalDefaults, check_schema, extent_lattice, prefix_extents
from .kinds import sniff_kind
from .video_io import MAX_FRAME_PIXELS, MAX_FRAMES, MAX_SIDE, FrameStore, VideoSource, output_format, probe_source, read_frames_to_store, write_frames

SCHEMA, SCHEMA_VERSION = "video", 1
FRAMES_PER_STEP = 8  # frames a training step samples from: enough variety, a bounded read


@dataclass(frozen=True)
class VideoGeometry:
    frames: int
    height: int
    width: int
    fps: float
    channels: int = 3
    bit_depth: int = 8

    @property
    def num_points(self) -> int:
        return self.frames * self.height * self.width

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.frames, self.height, self.width


@dataclass(frozen=True)
class VideoSignal:
    frames: FrameStore  # [T, H, W, 3] uint8, read a frame at a time
    fps: float

    @property
    def num_points(self) -> int:
        t, h, w = self.frames.shape[:3]
        return t * h * w


class FrameSampler:
    """Each step: a window of FRAMES_PER_STEP consecutive frames at a random start and the same
    band of whole rows of each (all of every frame when they fit in `batch_size` points), both
    drawn from the CPU generator and transformed pointwise on the fly. The batch is a 3-D
    lattice (frames x rows x columns), which the grid's separable kernels train on; consecutive
    frames share the time-vertex planes they fall between, so a step costs per point about
    what an image's does (benchmarks/results/video_step.md)."""

    full_batch = False

    def __init__(self, frames: FrameStore, transform: Any, batch_size: int, device: torch.device, extent: Extent | None = None):
        """Samples inside `extent` (temporal growth: the frames a stage covers; spatial: its
        columns); coordinates stay normalised by the whole clip."""
        self.frames, self.transform, self.device = frames, transform, device
        self.centres = extent_lattice(frames.shape[:3], extent)
        (self.t0, t1), (self.r0, r1), (self.c0, self.c1) = extent or tuple((0, n) for n in frames.shape[:3])
        t, h, w = self.centres.shape
        self.num_points = t * h * w
        self.frames_per_step = min(FRAMES_PER_STEP, t)
        self.rows_per_step = int(min(h, max(1, batch_size // (self.frames_per_step * w))))
        self.mean = torch.from_numpy(self._mean()).to(device)

    def _values(self, frame: int, rows: slice) -> np.ndarray:
        """[rows * columns, 3] float values in [0, 1] of frame `frame` (extent-relative) and rows."""
        pixels = self.frames[self.t0 + frame][self.r0 + rows.start : self.r0 + rows.stop, self.c0 : self.c1]
        return pixels.reshape(-1, 3).astype(np.float32) / 255.0

    def _mean(self) -> np.ndarray:
        total = np.zeros(3, np.float64)
        rows = slice(0, self.centres.shape[1])
        for t in range(self.centres.shape[0]):  # streamed: one frame in memory at a time
            total += self.transform.forward(self._values(t, rows)).sum(axis=0)
        return (total / self.num_points).astype(np.float32)

    def batch(self, generator: torch.Generator) -> Batch:
        t, h, _ = self.centres.shape
        start = int(torch.randint(t - self.frames_per_step + 1, (1,), generator=generator))
        chosen = np.arange(start, start + self.frames_per_step)
        r0 = int(torch.randint(h - self.rows_per_step + 1, (1,), generator=generator))
        rows = slice(r0, r0 + self.rows_per_step)
        values = np.concatenate([self._values(f, rows) for f in chosen])
        times, heights, widths = self.centres.axes
        lattice = Lattice((times[chosen], heights[rows], widths))
        target = np.ascontiguousarray(self.transform.forward(values), dtype=np.float32)
        coords = torch.from_numpy(lattice.coords()).to(self.device)
        return Batch(coords, torch.from_numpy(target).to(self.device), lattice)


def render_frames(field: Any, transform: Any, geometry: VideoGeometry, stage: int, device: torch.device,
                  extent: Extent | None) -> Iterator[np.ndarray]:
    """Frame after frame of `extent` (None: the clip), [H, W, 3] uint8: the field at the pixel
    centres of each frame (of the columns a spatially grown stage covers)."""
    from ..train import predict_lattice

    centres = extent_lattice(geometry.shape, extent)
    _, height, width = centres.shape
    for t in range(centres.shape[0]):
        frame = Lattice((centres.axes[0][t : t + 1],) + centres.axes[1:])
        values = predict_lattice(field, frame, stage, device).cpu().numpy()
        values = transform.inverse(values)
        yield np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8).reshape(height, width, 3)


class VideoModality(SampledSignalDefaults):
    """8-bit RGB clips (decoded from any ffmpeg input or raw YUV 4:2:0)."""

    name = "video"
    schema = SCHEMA
    schema_version = SCHEMA_VERSION
    # pointwise transforms only: a permutation would need every frame at once to invert
    transforms = frozenset({"identity", "invert", "affine", "gamma", "standardise"})
    rate_unit = "bpp"  # bits per pixel per frame
    output_suffixes = (".mp4", ".y4m", ".yuv")
    growth = frozenset({"spectral", "temporal", "spatial"})
    read_options = frozenset({"size", "fps", "frames", "resize"})
    write_options = frozenset({"crf", "lossless", "frames_dir"})
    headline = "psnr"
    conventions = {"psnr": "dB, RGB, per frame, the mean over the frames the width covers", "frames": "frames measured"}

    def accepts(self, path: Path) -> bool:
        return sniff_kind(path) == "video"

    def check_input(self, path: str | os.PathLike, options: Mapping[str, Any]) -> Path:
        probe_source(Path(path), options)  # sizes, rates and ranges checked before any decoding
        return Path(path)

    def read(self, path: str | os.PathLike, options: Mapping[str, Any]) -> VideoSignal:
        source: VideoSource = probe_source(Path(path), options)
        return VideoSignal(read_frames_to_store(source), source.fps)

    def geometry(self, signal: VideoSignal) -> VideoGeometry:
        t, h, w = signal.frames.shape[:3]
        return VideoGeometry(t, h, w, signal.fps)

    def describe(self, geometry: VideoGeometry) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
            "shape": list(geometry.shape), "channels": 3, "color": "rgb", "bit_depth": 8,
            "fps": float(geometry.fps), "coords": "sample-centre",
        }

    def from_description(self, desc: Mapping[str, Any]) -> VideoGeometry:
        where = "header.signal"
        check_schema(desc, SCHEMA, SCHEMA_VERSION, where)
        frames, height, width = require_int_list(desc, "shape", 3, 1, MAX_SIDE, where)
        if frames > MAX_FRAMES:
            raise InvalidHeader(f"{where}: {frames} frames is out of bounds")
        if height * width > MAX_FRAME_PIXELS:  # a frame is rendered whole: bounded as an image is
            raise InvalidHeader(f"{where}: frames of {width}x{height} are out of bounds (at most {MAX_FRAME_PIXELS} pixels)")
        if require_int(desc, "channels", 3, 3, where) != 3 or require_int(desc, "bit_depth", 8, 8, where) != 8:
            raise InvalidHeader(f"{where}: video is 8-bit RGB")
        fps = desc.get("fps")
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not (math.isfinite(fps) and 0 < fps <= 1000):
            raise InvalidHeader(f"{where}: 'fps' must be a number in (0, 1000]")
        return VideoGeometry(frames, height, width, float(fps))

    def domain(self, geometry: VideoGeometry) -> Domain:
        # the finest level: one vertex per frame, per row and per column
        return Domain(("t", "y", "x"), geometry.shape, resolution=geometry.shape)

    def search_lattice(self, signal: VideoSignal) -> np.ndarray:
        return signal.frames[len(signal.frames) // 2].astype(np.float32) / 255.0

    def stage_extents(self, geometry: VideoGeometry, stages: int, grow: str) -> list[Extent | None]:
        """Temporal growth: stage k covers the first ceil(k T / K) frames (so a file cut after
        stage k decodes exactly those); spatial: the first ceil(k W / K) columns of every frame;
        spectral: every stage covers the clip."""
        if grow == "spectral":
            return [None] * stages
        if grow not in ("temporal", "spatial"):
            raise UsageError(f"--grow {grow}: clips grow spectral, temporal or spatial")
        axis, name = (0, "frames") if grow == "temporal" else (2, "columns")
        if stages > geometry.shape[axis] // (1 if grow == "temporal" else 2):
            raise UsageError(f"--grow {grow}: {stages} stages need at least {stages} {name}"
                             f"{'' if grow == 'temporal' else ' pairs'}, the clip has {geometry.shape[axis]}")
        extents = prefix_extents(geometry.shape, stages, axis)
        if grow == "spatial":  # 4:2:0 outputs need even widths: round each strip up to even
            extents = [(t, y, (0, min(geometry.width, x[1] + x[1] % 2))) for t, y, x in extents]
        return extents

    def sampler(self, signal: VideoSignal, transform: Any, batch_size: int, device: torch.device,
                extent: Extent | None = None) -> FrameSampler:
        return FrameSampler(signal.frames, transform, batch_size, device, extent)

    def render(self, field: Any, transform: Any, geometry: VideoGeometry, stage: int, device: torch.device,
               extent: Extent | None = None) -> Iterator[np.ndarray]:
        return render_frames(field, transform, geometry, stage, device, extent)

    def quality(self, signal: VideoSignal, blocks: Iterable[np.ndarray], extent: Extent | None = None) -> dict[str, float]:
        (t0, t1), (r0, r1), (c0, c1) = extent or tuple((0, n) for n in signal.frames.shape[:3])
        errors = [mse(signal.frames[t][r0:r1, c0:c1], decoded) for t, decoded in zip(range(t0, t1), blocks)]
        # mean over frames of each frame's RGB PSNR (an exact frame is infinite: then the mean is)
        return {"psnr": float(np.mean([psnr_from_mse(e, 255.0) for e in errors])), "frames": len(errors)}

    def raw_bytes(self, geometry: VideoGeometry) -> int:
        return geometry.num_points * 3 // 2  # the clip as 8-bit YUV 4:2:0, how video is stored raw

    def rate(self, file_bytes: int, geometry: VideoGeometry) -> float:
        return file_bytes * 8 / geometry.num_points

    def rescale(self, geometry: VideoGeometry, scale: float) -> VideoGeometry:
        height, width = (int(math.floor(side * scale + 0.5)) for side in (geometry.height, geometry.width))
        if min(height, width) < 2 or max(height, width) > MAX_SIDE or height * width > MAX_FRAME_PIXELS:
            raise UsageError(f"--scale {scale:g} gives {width}x{height} frames, outside 2..{MAX_SIDE} per side and {MAX_FRAME_PIXELS} pixels")
        return VideoGeometry(geometry.frames, height, width, geometry.fps)

    def check_output(self, path: str | os.PathLike, options: Mapping[str, Any]) -> None:
        output_format(path, options)

    def write(self, path: str | os.PathLike, blocks: Iterable[np.ndarray], geometry: VideoGeometry,
              options: Mapping[str, Any]) -> str:
        def frames() -> Iterator[np.ndarray]:
            for block in blocks:  # a frame, or (decoded in memory) a whole clip
                yield from (block if block.ndim == 4 else (block,))

        return write_frames(path, frames(), geometry.fps, options)

    def warnings(self, signal: VideoSignal) -> list[str]:
        t, h, w = signal.frames.shape[:3]
        tiny = [f"the clip is tiny ({w}x{h}): a neural field's fixed size dominates"] if min(h, w) < 8 else []
        return list(getattr(signal.frames, "notes", ())) + tiny


VIDEO = VideoModality()
