"""The shape modality: triangle meshes as signed distance fields over (x, y, z)
(formats/annex-shape.md).

A mesh is moved into shape units (its bounding box centred, its longest side 1: the Occupancy
Networks convention, stored in the header so decoding restores the original place and size);
the field's unit cube spans BOX shape units around the centre, so a surface that touches the
box keeps a margin. Training data: surface points with normals, points near the surface and
uniform points, all with signed distances (shape_io: exact distance, winding-number sign),
drawn once from the seed and kept (a bounded set, whatever the mesh's size). Decoding samples
the field on an N^3 lattice slab by slab and extracts the mesh by marching cubes.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Mapping

import numpy as np
import torch

from ..errors import InvalidHeader, UsageError
from ..schema import require_float, require_int
from ..train.samplers import Batch
from .base import Domain, Extent, check_schema, extent_lattice
from .kinds import sniff_kind
from .shape_io import MESH_SUFFIXES, Mesh, Normalisation, load_mesh, marching_cubes, sample_surface, signed_distance, write_mesh
from .shape_metrics import CONVENTIONS, ReferenceSamples, mesh_metrics

SCHEMA, SCHEMA_VERSION = "shape", 1
BOX = 1.1  # shape units the field's unit cube spans (a 5% margin on each side of the longest)
DEFAULT_RESOLUTION = 256  # the decoded lattice's side: a laptop-sized marching cubes
HEADER_RESOLUTION_CAP = 512  # a file's own resolution is used up to this; more only when asked
QUALITY_RESOLUTION = 128  # the lattice an encode measures its stages on (stated in reports)
MAX_RESOLUTION = 2048
SURFACE, NEAR, UNIFORM = 0, 1, 2  # kinds of training points (column 4 of the values)
SAMPLES = {SURFACE: 200_000, NEAR: 200_000, UNIFORM: 100_000}
NEAR_SIGMAS = (0.01, 0.003)  # shape units: the spreads of near-surface points (DeepSDF's)
SLAB_POINTS = 1 << 18  # lattice points evaluated per block
REFERENCE_SEED = 2  # the reference surface and IoU points (the same for every encode)


@dataclass(frozen=True)
class ShapeGeometry:
    centre: tuple[float, float, float]  # mesh units
    scale: float  # mesh units per shape unit
    triangles: int  # the input mesh's (the rate's denominator)
    resolution: int = DEFAULT_RESOLUTION  # the decoded lattice's side
    channels: int = 1

    @property
    def num_points(self) -> int:
        return self.resolution**3


@dataclass
class ShapeSignal:
    mesh: Mesh  # in shape units
    normalisation: Normalisation
    coords: np.ndarray  # float32 [n, 3] training points, field coordinates in [0, 1]
    values: np.ndarray  # float32 [n, 5]: signed distance (shape units), normal, kind
    reference: ReferenceSamples  # what quality is measured against

    @property
    def num_points(self) -> int:
        return len(self.coords)


def to_field(points: np.ndarray) -> np.ndarray:
    """Shape units -> field coordinates in [0, 1]."""
    return points / BOX + 0.5


def read_shape(path: str | os.PathLike, seed: int = 0) -> ShapeSignal:
    mesh = load_mesh(path)
    norm = Normalisation.of(mesh)
    shape_mesh = Mesh(norm.to_shape(mesh.vertices), mesh.faces, mesh.read_triangles)
    rng = np.random.default_rng(seed)
    surface, normals = sample_surface(shape_mesh, SAMPLES[SURFACE], seed + 1)
    half = SAMPLES[NEAR] // len(NEAR_SIGMAS)
    near = np.concatenate([surface[i * half : (i + 1) * half] + rng.normal(0, s, (half, 3)) for i, s in enumerate(NEAR_SIGMAS)])
    uniform = (rng.random((SAMPLES[UNIFORM], 3)) - 0.5) * BOX
    off = np.concatenate([near, uniform])
    distance = signed_distance(shape_mesh, off)
    points = np.concatenate([surface, off])
    values = np.zeros((len(points), 5), np.float32)
    values[len(surface):, 0] = distance
    values[: len(surface), 1:4] = normals
    values[len(surface):, 4] = np.repeat([NEAR, UNIFORM], [len(near), len(uniform)])
    coords = np.clip(to_field(points), 0.0, 1.0).astype(np.float32)
    # the reference is drawn from a fixed seed: quality compares across training seeds
    return ShapeSignal(shape_mesh, norm, coords, values, ReferenceSamples.of(shape_mesh, REFERENCE_SEED))


class SDFSampler:
    """Each step: `batch_size` training points drawn uniformly from the kept set (surface, near
    and uniform points in their proportions), from the CPU generator."""

    full_batch = False

    def __init__(self, signal: ShapeSignal, transform: Any, batch_size: int, device: torch.device):
        self.coords = torch.from_numpy(signal.coords)
        values = signal.values.copy()
        values[:, :1] = transform.forward(values[:, :1])
        self.values = torch.from_numpy(values)
        self.num_points, self.batch_size, self.device = len(signal.coords), min(batch_size, len(signal.coords)), device
        self.mean = torch.zeros(1, device=device)  # a distance field starts at zero, not at the mean

    def batch(self, generator: torch.Generator) -> Batch:
        idx = torch.randint(self.num_points, (self.batch_size,), generator=generator)
        return Batch(self.coords[idx].to(self.device), self.values[idx].to(self.device))


def render_sdf(field: Any, transform: Any, geometry: ShapeGeometry, stage: int, device: torch.device) -> Iterator[np.ndarray]:
    """The field's signed distance (shape units) on the N^3 lattice of sample centres, as slabs
    of whole x-planes [n_i, N, N] (however large N: a plane past SLAB_POINTS is evaluated in
    pieces and joined), each evaluated as a declared lattice in bounded pieces."""
    from ..fields.base import Lattice
    from ..train import predict_lattice

    n = geometry.resolution
    x, y, z = extent_lattice((n, n, n), None).axes
    planes = max(1, SLAB_POINTS // (n * n))
    for start in range(0, n, planes):
        slab = Lattice((x[start : start + planes], y, z))
        values = predict_lattice(field, slab, stage, device, chunk=SLAB_POINTS).cpu().numpy()
        yield transform.inverse(values).reshape(slab.shape).astype(np.float32)


class ShapeModality:
    """Triangle meshes (OBJ, PLY, STL, OFF) as signed distance fields."""

    name: ClassVar[str] = "shape"
    schema = SCHEMA
    schema_version = SCHEMA_VERSION
    # value transforms assume samples in [0, 1]; a signed distance is unbounded and its
    # gradient norm is 1 (the eikonal term): only the identity keeps that
    transforms = frozenset({"identity"})
    rate_unit = "bits/triangle"  # of the input mesh, as mesh coders report
    output_suffixes = (".ply", ".obj", ".stl", ".off")
    growth = frozenset({"spectral"})
    read_options: ClassVar[frozenset[str]] = frozenset({"seed"})  # the encode's --seed draws the training points
    write_options: ClassVar[frozenset[str]] = frozenset({"sdf_grid", "resolution"})
    headline = "chamfer_l1"
    conventions = {**CONVENTIONS, "lattice": f"marching cubes of the decoded field at {QUALITY_RESOLUTION}^3"}

    def accepts(self, path: Path) -> bool:
        return sniff_kind(path) == "mesh"

    def check_input(self, path: str | os.PathLike, options: Mapping[str, Any]) -> Path:
        from ..errors import InputError
        from ..fsutil import input_file
        from .kinds import ENCODABLE

        path = input_file(path)
        if path.suffix.lower() not in MESH_SUFFIXES:
            raise InputError(f"{path} looks like a mesh, but nfc reads meshes from {', '.join(MESH_SUFFIXES)} files; it encodes {ENCODABLE}")
        return path

    def read(self, path: str | os.PathLike, options: Mapping[str, Any]) -> ShapeSignal:
        signal = read_shape(path, int(options.get("seed", 0)))
        try:  # what the header will say must read back: refuse a mesh outside its bounds now
            self.from_description(self.describe(self.geometry(signal)))
        except InvalidHeader as exc:
            from ..errors import InputError

            raise InputError(f"{path}: its placement cannot be stored ({str(exc).split(': ', 1)[-1]})") from None
        return signal

    def geometry(self, signal: ShapeSignal) -> ShapeGeometry:
        c = signal.normalisation.centre
        return ShapeGeometry((float(c[0]), float(c[1]), float(c[2])), signal.normalisation.scale, signal.mesh.triangles)

    def describe(self, geometry: ShapeGeometry) -> dict[str, Any]:
        return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "centre": list(geometry.centre), "scale": geometry.scale,
                "box": BOX, "triangles": geometry.triangles, "resolution": geometry.resolution,
                "channels": 1, "sdf": "negative-inside", "coords": "sample-centre"}

    def from_description(self, desc: Mapping[str, Any]) -> ShapeGeometry:
        where = "header.signal"
        check_schema(desc, SCHEMA, SCHEMA_VERSION, where)
        if desc.get("sdf") != "negative-inside" or desc.get("coords") != "sample-centre":
            raise InvalidHeader(f"{where}: a shape is a negative-inside distance field at sample centres")
        centre = desc.get("centre")
        if not isinstance(centre, list) or len(centre) != 3 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 1e30 for v in centre):
            raise InvalidHeader(f"{where}: 'centre' must be 3 finite numbers")
        scale = require_float(desc, "scale", 1e-30, 1e30, where)
        if require_float(desc, "box", BOX, BOX, where) != BOX or require_int(desc, "channels", 1, 1, where) != 1:
            raise InvalidHeader(f"{where}: a shape field has 1 channel over a box of {BOX}")
        return ShapeGeometry(tuple(float(v) for v in centre), scale, require_int(desc, "triangles", 1, 1 << 40, where),
                             require_int(desc, "resolution", 2, MAX_RESOLUTION, where))

    def domain(self, geometry: ShapeGeometry) -> Domain:
        n = geometry.resolution
        return Domain(("x", "y", "z"), (n, n, n))

    def field_defaults(self, arch: str) -> dict[str, Any]:
        """A shape's field is small (Draco codes these meshes in 40-130 KB): fewer, smaller levels;
        the SIREN of the paper's SDF experiment."""
        if arch == "grid":
            return {"n_levels": 12, "log2_hashmap_size": 12, "base_resolution": 8, "max_resolution": 256, "n_features": 2}
        return {"hidden_layers": 3, "base_width": 64}

    def search_lattice(self, signal: ShapeSignal) -> np.ndarray:
        return np.zeros((1, 1, 1), np.float32)  # only the identity: nothing to search

    def stage_extents(self, geometry: ShapeGeometry, stages: int, grow: str) -> list[Extent | None]:
        if grow != "spectral":
            raise UsageError(f"--grow {grow}: shapes grow spectrally (finer levels, wider MLPs)")
        return [None] * stages

    def sampler(self, signal: ShapeSignal, transform: Any, batch_size: int, device: torch.device,
                extent: Extent | None = None) -> SDFSampler:
        return SDFSampler(signal, transform, min(batch_size, 1 << 16), device)

    def loss(self, arch: str) -> Any:
        from .shape_loss import sdf_regression_loss, siren_sdf_loss

        return siren_sdf_loss if arch == "siren" else sdf_regression_loss

    def render(self, field: Any, transform: Any, geometry: ShapeGeometry, stage: int, device: torch.device,
               extent: Extent | None = None) -> Iterator[np.ndarray]:
        return render_sdf(field, transform, geometry, stage, device)

    def assemble(self, blocks: Iterable[np.ndarray]) -> np.ndarray:
        """The whole sampled field [N, N, N] from its x-slabs."""
        return np.concatenate(list(blocks))

    def quality(self, signal: ShapeSignal, blocks: Iterable[np.ndarray], extent: Extent | None = None) -> dict[str, float]:
        volume = np.concatenate(list(blocks))
        vertices, faces = marching_cubes([volume])
        inside = field_inside(volume, signal.reference.uniform)
        return mesh_metrics(signal.reference, lattice_to_shape(vertices, volume.shape[0]), faces, inside)

    def quality_geometry(self, geometry: ShapeGeometry) -> ShapeGeometry:
        """Stages are measured on a QUALITY_RESOLUTION lattice (an encode's report, fast)."""
        return ShapeGeometry(geometry.centre, geometry.scale, geometry.triangles, QUALITY_RESOLUTION)

    def output_geometry(self, geometry: ShapeGeometry, options: Mapping[str, Any]) -> ShapeGeometry:
        resolution = options.get("resolution")
        if resolution is None:  # a (hostile) header's own choice never costs more than 512^3
            return ShapeGeometry(geometry.centre, geometry.scale, geometry.triangles, min(geometry.resolution, HEADER_RESOLUTION_CAP))
        if not 2 <= int(resolution) <= MAX_RESOLUTION:
            raise UsageError(f"--resolution {resolution}: the lattice side must be 2..{MAX_RESOLUTION}")
        return ShapeGeometry(geometry.centre, geometry.scale, geometry.triangles, int(resolution))

    def raw_bytes(self, geometry: ShapeGeometry) -> int:
        return geometry.triangles * 50  # binary STL: 50 bytes a triangle

    def rate(self, file_bytes: int, geometry: ShapeGeometry) -> float:
        return file_bytes * 8 / geometry.triangles

    def rescale(self, geometry: ShapeGeometry, scale: float) -> ShapeGeometry:
        resolution = int(math.floor(geometry.resolution * scale + 0.5))
        if not 2 <= resolution <= MAX_RESOLUTION:
            raise UsageError(f"a marching-cubes lattice of {resolution}^3 is outside 2..{MAX_RESOLUTION}")
        return ShapeGeometry(geometry.centre, geometry.scale, geometry.triangles, resolution)

    def check_output(self, path: str | os.PathLike, options: Mapping[str, Any]) -> None:
        if options.get("sdf_grid"):
            if Path(path).suffix.lower() != ".npy":
                raise UsageError(f"--sdf-grid {path}: the sampled field is written as a .npy file")
        elif Path(path).suffix.lower() not in self.output_suffixes:
            raise UsageError(f"{path}: a decoded shape is written as {', '.join(self.output_suffixes)} (or --sdf-grid FILE.npy)")

    def write(self, path: str | os.PathLike, blocks: Iterable[np.ndarray], geometry: ShapeGeometry,
              options: Mapping[str, Any]) -> str:
        if options.get("sdf_grid"):
            return write_sdf_grid(path, blocks, geometry)
        vertices, faces = marching_cubes(blocks)
        norm = Normalisation(np.array(geometry.centre), geometry.scale)
        write_mesh(path, norm.to_mesh(lattice_to_shape(vertices, geometry.resolution)), faces)
        return f"marching cubes at {geometry.resolution}^3: {len(vertices)} vertices, {len(faces)} triangles"

    def warnings(self, signal: ShapeSignal) -> list[str]:
        return []


def field_inside(volume: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether the field sampled on `volume` (an N^3 lattice of sample centres over the box) is
    negative at `points` (shape units), trilinearly interpolated."""
    from scipy.ndimage import map_coordinates

    n = volume.shape[0]
    index = ((points / BOX + 0.5) * n - 0.5).T
    return map_coordinates(volume, index, order=1, mode="nearest") < 0


def lattice_to_shape(vertices: np.ndarray, n: int) -> np.ndarray:
    """Marching-cubes vertices in lattice index units -> shape units."""
    return ((vertices + 0.5) / n - 0.5) * BOX


def write_sdf_grid(path: str | os.PathLike, blocks: Iterable[np.ndarray], geometry: ShapeGeometry) -> str:
    """The sampled field as an N^3 float32 .npy (shape units, negative inside), slab by slab into
    a temporary file renamed at the end."""
    from ..fsutil import atomic_write

    n = geometry.resolution

    def write(tmp: Path) -> None:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, n, n))
        start = 0
        for block in blocks:
            array[start : start + len(block)] = block
            start += len(block)
        array.flush()
        del array

    atomic_write(path, write)
    return f"signed distances on a {n}^3 lattice (x, y, z; shape units, negative inside)"


SHAPE = ShapeModality()
