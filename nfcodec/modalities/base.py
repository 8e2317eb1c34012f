"""The contract every modality implements (image today; video and shapes next).

A modality is everything the codec needs to know about one kind of signal, and nothing the
codec knows about a modality lives outside its module: reading a source, describing it for the
header (a versioned `schema`), its coordinate domain, the training data, rendering and writing
decoded signals, quality and rate, and which transforms it admits. `codec`, `decoding`,
`streaming`, the search and the CLI reach a modality only through `nfcodec.modalities`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Mapping, Protocol, runtime_checkable

import numpy as np
import torch

from ..fields.base import Lattice


# a half-open [start, stop) of sample indices per axis of the domain (formats/nff.md 4.5)
Extent = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Domain:
    """Where a field is evaluated: named axes in [0, 1] each, sampled on a lattice of sample
    centres ((i + 0.5) / n along an axis of n samples)."""

    axes: tuple[str, ...]  # e.g. ("y", "x"); the field's input dimension is len(axes)
    shape: tuple[int, ...]  # samples per axis
    # the finest grid resolution worth having along each axis (None: the longest side on every
    # axis, as for an image); a clip's time axis needs no more than its frame count
    resolution: tuple[int, ...] | None = None

    @property
    def num_points(self) -> int:
        return int(np.prod(self.shape))


def lattice_coords(shape: tuple[int, ...], first_axis: slice | None = None) -> np.ndarray:
    """Sample-centre coordinates of a lattice, [n, len(shape)] float32 in [0, 1], C order (the
    first axis slowest); `first_axis` selects a block of it (rows of an image, frames of a clip)."""
    return Lattice.sample_centres(shape, first_axis).coords()


def check_schema(desc: Mapping[str, Any], schema: str, version: int, where: str) -> None:
    """A description's `schema` and `schema_version`, exactly (a bool or a float is no version)."""
    from ..errors import InvalidHeader

    found = desc.get("schema_version")
    if desc.get("schema") != schema or not isinstance(found, int) or isinstance(found, bool) or found != version:
        raise InvalidHeader(f"{where}: schema {desc.get('schema')!r} version {found!r} is not a {schema} description this reader knows")


def extent_lattice(shape: tuple[int, ...], extent: Extent | None) -> Lattice:
    """The sample centres of a domain of `shape` inside `extent` (None: all of it), each still
    normalised by the whole domain (a stage covering part of a signal sees its true positions)."""
    centres = Lattice.sample_centres(shape)
    if extent is None:
        return centres
    return Lattice(tuple(axis[start:stop] for axis, (start, stop) in zip(centres.axes, extent)))


def prefix_extents(shape: tuple[int, ...], stages: int, axis: int) -> list[Extent]:
    """Stage k covers the first ceil(k n / K) of the n samples along `axis` and all of every
    other axis: a file cut after stage k decodes exactly that part (temporal growth along time,
    spatial growth along columns)."""
    n = shape[axis]
    return [tuple((0, -(-k * n // stages)) if a == axis else (0, size) for a, size in enumerate(shape))
            for k in range(1, stages + 1)]


def check_extents(extents: list[tuple[tuple[int, int], ...] | None], domain: Domain, growth: frozenset[str]) -> None:
    """Stage extents (formats/nff.md 4.5) against a validated domain: one [start, stop) per
    axis inside the lattice, each stage's extent containing the one before (a prefix of the
    file decodes a part that only grows). Partial extents need a growth mode that makes them
    (temporal or spatial); a modality without one renders every stage whole."""
    from ..errors import InvalidHeader, UnknownCodecId

    whole = tuple((0, n) for n in domain.shape)
    previous = None
    for k, extent in enumerate(extents, start=1):
        extent = whole if extent is None else extent
        if len(extent) != len(domain.axes) or any(stop > n for (_, stop), n in zip(extent, domain.shape)):
            raise InvalidHeader(f"stage {k}: extent {list(extent)} does not fit the domain {list(domain.shape)}")
        if previous is not None and any(s > ps or e < pe for (s, e), (ps, pe) in zip(extent, previous)):
            raise InvalidHeader(f"stage {k}: extent {list(extent)} does not contain stage {k - 1}'s")
        # temporal growth narrows the time axis, spatial growth the others
        narrowed = {"temporal" if name == "t" else "spatial" for name, pair, n in zip(domain.axes, extent, domain.shape) if pair != (0, n)}
        if narrowed - growth:
            raise UnknownCodecId(f"stage {k} covers part of the signal ({' and '.join(sorted(narrowed - growth))} growth), "
                                 "which this decoder does not render for this modality")
        previous = extent


class SampledSignalDefaults:
    """The contract's defaults for signals of samples on a lattice (images, clips): the
    architecture's own defaults, the MSE loss, measured and decoded at their own size."""

    def field_defaults(self, arch: str) -> dict[str, Any]:
        return {}

    def loss(self, arch: str) -> Any:
        from ..train import mse_loss

        return mse_loss

    def quality_geometry(self, geometry: Any) -> Any:
        return geometry

    def assemble(self, blocks: Iterable[np.ndarray]) -> np.ndarray:
        blocks = list(blocks)  # an image: one block; a clip: its frames, stacked
        return blocks[0] if len(blocks) == 1 else np.stack(blocks)

    def output_geometry(self, geometry: Any, options: Mapping[str, Any]) -> Any:
        return geometry


@runtime_checkable
class Signal(Protocol):
    """A signal read from a source, ready to train on."""

    @property
    def num_points(self) -> int: ...


@runtime_checkable
class Geometry(Protocol):
    """A validated signal description (from a signal or a header): no samples."""

    @property
    def num_points(self) -> int: ...

    @property
    def channels(self) -> int: ...


@runtime_checkable
class Modality(Protocol):
    name: ClassVar[str]  # registry name, written into files as `modality`
    schema: ClassVar[str]  # name of the signal-description schema this module reads and writes
    schema_version: ClassVar[int]
    transforms: ClassVar[frozenset[str]]  # registry names of the transforms it admits
    rate_unit: ClassVar[str]  # what `rate` is reported in, e.g. "bpp"
    output_suffixes: ClassVar[tuple[str, ...]]  # what decoding can write, default first
    growth: ClassVar[frozenset[str]]  # how its files grow: "spectral", "temporal", "spatial"
    read_options: ClassVar[frozenset[str]]  # options `read` takes (video: size, fps, frames, resize)
    write_options: ClassVar[frozenset[str]]  # options `write` takes (video: crf, lossless)
    headline: ClassVar[str]  # the `quality` key reports lead with ("psnr"; a shape: "chamfer_l1")
    conventions: ClassVar[dict[str, str]]  # how each `quality` number is measured, printed beside it

    def accepts(self, path: Path) -> bool:
        """Whether `path` looks like this modality's input (a cheap look at name and bytes)."""

    def check_input(self, path: str | os.PathLike, options: Mapping[str, Any]) -> Path:
        """InputError / UsageError now (before any work) if `path` cannot be this modality's input."""

    def read(self, path: str | os.PathLike, options: Mapping[str, Any]) -> Signal:
        """The signal in `path`; InputError with one line if it cannot be read."""

    def geometry(self, signal: Signal) -> Geometry: ...

    def describe(self, geometry: Geometry) -> dict[str, Any]:
        """The header's signal description, with `schema` and `schema_version`."""

    def from_description(self, desc: Mapping[str, Any]) -> Geometry:
        """The geometry a (hostile) header describes, validated; InvalidHeader otherwise."""

    def domain(self, geometry: Geometry) -> Domain: ...

    def search_lattice(self, signal: Signal) -> np.ndarray:
        """[*shape, C] float32 values in [0, 1] that the transform search probes (an image: all
        of it; a clip: its middle frame)."""

    def field_defaults(self, arch: str) -> dict[str, Any]:
        """Overrides of the architecture's defaults for this modality's signals (e.g. a shape's
        smaller grid); {} to keep them."""

    def loss(self, arch: str) -> Any:
        """The training loss (`train.Loss`) for a field of `arch` on this modality's batches."""

    def stage_extents(self, geometry: Geometry, stages: int, grow: str) -> list[Extent | None]:
        """The part of the domain each stage covers under growth mode `grow` (None: all);
        UsageError for a mode this modality does not have."""

    def sampler(self, signal: Signal, transform: Any, batch_size: int, device: torch.device,
                extent: Extent | None = None) -> Any:
        """A `train.samplers.Sampler` of (coords, transformed values) inside `extent`, with
        `mean` [C] (the field's initial output offset); memory bounded however large the signal."""

    def render(self, field: Any, transform: Any, geometry: Geometry, stage: int, device: torch.device,
               extent: Extent | None = None) -> Iterator[np.ndarray]:
        """The decoded signal at `stage` stages over `extent`, as blocks in order (an image:
        one; a clip: its frames), each evaluated in bounded pieces."""

    def assemble(self, blocks: Iterable[np.ndarray]) -> np.ndarray:
        """The whole decoded signal in memory from its rendered blocks (an image; a clip's frames
        stacked [T, H, W, 3]; a shape's slabs joined [N, N, N])."""

    def quality(self, signal: Signal, blocks: Iterable[np.ndarray], extent: Extent | None = None) -> dict[str, float]:
        """Quality of decoded blocks against the source over `extent` (`psnr` is the headline)."""

    def quality_geometry(self, geometry: Geometry) -> Geometry:
        """The geometry an encode renders each stage at to measure it (the signal's own, or a
        cheaper lattice where rendering is a choice, as for shapes)."""

    def output_geometry(self, geometry: Geometry, options: Mapping[str, Any]) -> Geometry:
        """The geometry a decode renders, given the write options (a shape's `resolution`)."""

    def raw_bytes(self, geometry: Geometry) -> int:
        """The uncompressed samples' size: what a file larger than it wastes."""

    def rate(self, file_bytes: int, geometry: Geometry) -> float:
        """`file_bytes` in this modality's rate unit."""

    def rescale(self, geometry: Geometry, scale: float) -> Geometry:
        """The geometry rendered `scale` times finer (UsageError where it cannot be)."""

    def check_output(self, path: str | os.PathLike, options: Mapping[str, Any]) -> None:
        """UsageError now, before decoding, for an output this modality cannot write."""

    def write(self, path: str | os.PathLike, blocks: Iterable[np.ndarray], geometry: Geometry,
              options: Mapping[str, Any]) -> str:
        """Write decoded blocks atomically (the format follows the suffix); returns a note on
        how (e.g. the video codec and quality), or ""."""

    def warnings(self, signal: Signal) -> list[str]:
        """Degenerate signals, known before training (tiny, constant, ...)."""
