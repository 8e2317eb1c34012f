"""Meshes in and out for the shape modality: reading with one-line errors, the unit-box
normalisation, signed distances robust to open scans, and meshes from sampled distance fields.

Signed distance: the exact unsigned distance (libigl's AABB tree) with the sign of the fast
generalised winding number (inside where w > 1/2), so open scans such as the Stanford bunny get
a sensible inside. libigl's own winding-number signed distance returns (1 - 2w) d, not the
distance, near holes: we do not use it (measured: up to 100% short near the bunny's base).
Everything is computed in chunks, so memory follows the chunk, not the query count.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import InputError, LimitExceeded, UsageError
from ..fsutil import atomic_write

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".off")
CHUNK = 1 << 17  # query points per libigl call
MAX_FACES = 1 << 25
MAX_DECODED_TRIANGLES = 1 << 25  # a decoded mesh larger than this is refused (LimitExceeded)


@dataclass(frozen=True)
class Mesh:
    vertices: np.ndarray  # float64 [n, 3]
    faces: np.ndarray  # int64 [m, 3]
    # the triangles the file holds, before load_mesh drops those that are no surface (zero
    # area, repeats): what a rate per input triangle counts (None: len(faces))
    read_triangles: int | None = None

    @property
    def triangles(self) -> int:
        return len(self.faces) if self.read_triangles is None else self.read_triangles


def load_mesh(path: str | os.PathLike) -> Mesh:
    """A triangle mesh from OBJ, PLY, STL or OFF; InputError with one line for anything else."""
    import trimesh

    path = Path(path)
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise InputError(f"{path}: meshes are read from {', '.join(MESH_SUFFIXES)} files")
    try:
        loaded = trimesh.load(str(path), process=False)
    except (ValueError, IndexError, KeyError, NotImplementedError, OSError, UnicodeDecodeError, TypeError) as exc:
        raise InputError(f"cannot read {path} as a mesh ({exc.__class__.__name__}: {str(exc).splitlines()[0][:120] if str(exc) else 'malformed'})") from None
    if isinstance(loaded, trimesh.Scene):
        if not loaded.geometry:
            raise InputError(f"{path} holds no mesh (an empty or unreadable file)")
        loaded = loaded.to_geometry()
    if isinstance(loaded, trimesh.PointCloud) or not hasattr(loaded, "faces"):
        raise InputError(f"{path} is a point cloud (no faces): nfc encodes triangle meshes as distance fields")
    vertices = np.asarray(loaded.vertices, dtype=np.float64)
    faces = np.asarray(loaded.faces, dtype=np.int64)
    if len(faces) == 0:
        raise InputError(f"{path} has no faces: nfc encodes triangle meshes as distance fields")
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.min() < 0 or faces.max() >= len(vertices):
        raise InputError(f"{path} has faces that name vertices it does not have")
    if len(faces) > MAX_FACES:
        raise InputError(f"{path} has {len(faces)} faces, more than {MAX_FACES}")
    used = vertices[np.unique(faces)]
    if not np.all(np.isfinite(used)):  # vertices no face uses are dropped below, whatever they hold
        bad = int(np.count_nonzero(~np.isfinite(used).all(axis=1)))
        raise InputError(f"{path}: {bad} of the vertices its faces use are not finite numbers (NaN or infinity)")
    extent = float(np.ptp(used, axis=0).max())
    if extent <= 0:
        raise InputError(f"{path}: every face is a single point (the mesh has no extent)")
    read_triangles = len(faces)
    faces = surface_faces(vertices, faces, extent)
    if len(faces) == 0:
        raise InputError(f"{path}: every face has zero area (the mesh has no surface)")
    return Mesh(*without_unused_vertices(vertices, faces), read_triangles=read_triangles)


ZERO_AREA = 1e-12  # a face whose doubled area is at most this times the mesh's extent squared has none


def surface_faces(vertices: np.ndarray, faces: np.ndarray, extent: float) -> np.ndarray:
    """The faces that are surface, in order: without zero-area faces (a collapsed triangle is
    a segment or a point; inside a solid it would pull the distance to zero along it) and
    without repeats of a triangle (the same three corners, in any order and orientation: a
    repeat would count twice in the winding number, or cancel it when reversed, and weigh
    twice in sampling). Corners are compared by position, so unwelded meshes (STL) count too.
    Fins and other non-manifold edges are kept: distances and winding numbers take them."""
    doubled_area = np.empty(len(faces))
    for start in range(0, len(faces), CHUNK):
        corners = vertices[faces[start : start + CHUNK]]
        doubled_area[start : start + CHUNK] = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    keep = doubled_area > ZERO_AREA * extent * extent
    _, welded = np.unique(vertices, axis=0, return_inverse=True)
    corners = np.sort(welded.reshape(-1)[faces], axis=1)
    _, first = np.unique(corners[keep], axis=0, return_index=True)
    kept = np.flatnonzero(keep)[np.sort(first)]
    return faces if len(kept) == len(faces) else faces[kept]


def without_unused_vertices(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vertices some face uses (in their order) and the faces renumbered: a vertex no face
    uses is no part of the surface (nor of the bounding box), whatever its coordinates."""
    used, renumbered = np.unique(faces, return_inverse=True)
    if len(used) == len(vertices):
        return vertices, faces
    return vertices[used], renumbered.reshape(faces.shape)


@dataclass(frozen=True)
class Normalisation:
    """Shape units: the mesh moved to its bounding box's centre and divided by its longest side
    (so the shape spans [-0.5, 0.5] along that side, the Occupancy Networks convention)."""

    centre: np.ndarray  # float64 [3], mesh units
    scale: float  # the bounding box's longest side, mesh units

    @staticmethod
    def of(mesh: Mesh) -> "Normalisation":
        used = mesh.vertices[np.unique(mesh.faces)]
        lo, hi = used.min(axis=0), used.max(axis=0)
        return Normalisation((lo + hi) / 2, float((hi - lo).max()))

    def to_shape(self, points: np.ndarray) -> np.ndarray:
        return (points - self.centre) / self.scale

    def to_mesh(self, points: np.ndarray) -> np.ndarray:
        return points * self.scale + self.centre


def signed_distance(mesh: Mesh, points: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) of points [n, 3] to the mesh, in the mesh's units."""
    import igl

    out = np.empty(len(points), dtype=np.float64)
    vertices, faces = np.ascontiguousarray(mesh.vertices), np.ascontiguousarray(mesh.faces)
    for start in range(0, len(points), CHUNK):
        query = np.ascontiguousarray(points[start : start + CHUNK], dtype=np.float64)
        distance = igl.signed_distance(query, vertices, faces, sign_type=igl.SIGNED_DISTANCE_TYPE_UNSIGNED)[0]
        winding = igl.fast_winding_number(vertices, faces, query)
        out[start : start + len(query)] = np.where(winding > 0.5, -np.abs(distance), np.abs(distance))
    return out


def inside(mesh: Mesh, points: np.ndarray) -> np.ndarray:
    """Whether points lie inside (generalised winding number above 1/2)."""
    import igl

    vertices, faces = np.ascontiguousarray(mesh.vertices), np.ascontiguousarray(mesh.faces)
    parts = [igl.fast_winding_number(vertices, faces, np.ascontiguousarray(points[s : s + CHUNK], dtype=np.float64)) > 0.5
             for s in range(0, len(points), CHUNK)]
    return np.concatenate(parts) if parts else np.zeros(0, bool)


def sample_surface(mesh: Mesh, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` area-weighted surface points and their face normals, the same for a seed."""
    import trimesh

    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    points, face = trimesh.sample.sample_surface(tm, count, seed=seed)
    return np.asarray(points, dtype=np.float64), np.asarray(tm.face_normals[face], dtype=np.float64)


def marching_cubes(slabs: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The zero level set of a volume that arrives as slabs along axis 0 (each [n_i, N, N]), as
    vertices in lattice index units and faces, outward for a negative-inside field. Slabs are
    joined with one plane of overlap and shared vertices merged: the result is the mesh of the
    whole volume, in the memory of two slabs plus the mesh."""
    from skimage.measure import marching_cubes as skimage_mc

    vertices, faces, count, previous, offset, triangles = [], [], 0, None, 0, 0
    for slab in slabs:
        block = slab if previous is None else np.concatenate([previous[-1:], slab])
        start = offset - (0 if previous is None else 1)
        # a strict sign change: a field that only touches zero (its maximum or minimum exactly
        # 0) has no surface there, and skimage raises rather than return an empty mesh
        if block.shape[0] >= 2 and float(block.min()) < 0.0 < float(block.max()):
            v, f, _, _ = skimage_mc(np.ascontiguousarray(block, dtype=np.float32), 0.0)
            v = v.astype(np.float64)
            v[:, 0] += start
            vertices.append(v)
            faces.append(f.astype(np.int64) + count)
            count += len(v)
            triangles += len(f)
            if triangles > MAX_DECODED_TRIANGLES:  # a noisy (or hostile) field: bounded, not out of memory
                raise LimitExceeded(f"the decoded surface exceeds {MAX_DECODED_TRIANGLES} triangles at this resolution")
        offset += slab.shape[0]
        previous = slab
    if not vertices:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    v, f = np.concatenate(vertices), np.concatenate(faces)
    # vertices on a shared plane come out of both slabs: merge them (rounded: float32 offsets)
    unique, inverse = np.unique(np.round(v, 4), axis=0, return_inverse=True)
    return unique, inverse.reshape(-1)[f]


def write_mesh(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Write a mesh atomically; the format follows the suffix (.ply, .obj, .stl, .off)."""
    import trimesh

    suffix = Path(path).suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise UsageError(f"{path}: a decoded shape is written as {', '.join(MESH_SUFFIXES)} (or --sdf-grid FILE.npy)")
    mesh = trimesh.Trimesh(vertices, faces, process=False)

    def write(tmp: Path) -> None:
        data: Any = mesh.export(file_type=suffix[1:])
        tmp.write_bytes(data if isinstance(data, bytes) else data.encode())

    return atomic_write(path, write)
