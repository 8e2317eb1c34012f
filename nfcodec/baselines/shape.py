"""Classic mesh codec: Draco (Google's, through DracoPy) at compression level 7, its setting the
vertex quantisation `bits` (per coordinate, over the mesh's bounding box).

The input mesh is coded in its own units (the signal's shape-unit vertices mapped back through
its normalisation, as Draco would code the file); the decoded vertices are moved into shape
units and measured as the shape modality measures our stages: `mesh_metrics` against
`signal.reference` (Chamfer-L1 in the Occupancy Networks form, normal consistency, F-score at
1%, IoU of the decoded mesh's inside by winding number), and `SHAPE.rate` (bits per triangle
of the input mesh).
"""
from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import last_words
from . import Baseline, BaselinePoint

BITS = (8, 10, 11, 12, 14)  # quantisation bits, worst first


@dataclass(frozen=True)
class Draco(Baseline):
    """Draco through DracoPy: triangle meshes, vertex positions quantised to `bits`."""

    compression_level: int = 7

    def unavailable(self, signal: Any = None) -> str | None:
        if importlib.util.find_spec("DracoPy") is None:
            return "DracoPy is not installed (pip install DracoPy)"
        if signal is not None and not (hasattr(signal, "mesh") and hasattr(signal, "reference")):
            return f"not a shape signal ({type(signal).__name__})"
        return None

    def run(self, signal: Any, setting: float) -> BaselinePoint:
        import DracoPy

        from ..modalities.shape import SHAPE
        from ..modalities.shape_io import Mesh, inside
        from ..modalities.shape_metrics import mesh_metrics

        vertices = signal.normalisation.to_mesh(signal.mesh.vertices).astype(np.float32)
        start = time.perf_counter()
        try:
            data = DracoPy.encode(vertices, signal.mesh.faces.astype(np.uint32), quantization_bits=int(setting),
                                  compression_level=self.compression_level)
            decoded = DracoPy.decode(data)
        except Exception as exc:  # DracoPy raises its own types (and ValueError) for what it refuses
            raise self.error(setting, f"DracoPy failed ({type(exc).__name__}: {last_words(str(exc))})") from None
        seconds = time.perf_counter() - start
        points = signal.normalisation.to_shape(np.asarray(decoded.points, dtype=np.float64))
        faces = np.asarray(decoded.faces, dtype=np.int64).reshape(-1, 3)
        metrics = mesh_metrics(signal.reference, points, faces, inside(Mesh(points, faces), signal.reference.uniform))
        size = len(data)
        return BaselinePoint(self.name, setting, size, SHAPE.rate(size, SHAPE.geometry(signal)), metrics, seconds)


SHAPE_BASELINES = (Draco("draco", "shape", "Draco (level 7)", "bits", BITS),)
