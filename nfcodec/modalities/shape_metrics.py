"""Shape quality, each number with its convention (../shared/notes/sdf_anchors.md):

* chamfer_l1: Occupancy Networks Chamfer-L1, 100,000 points on each surface, unsquared nearest
  distances, 0.5 x (accuracy + completeness), shape in [-0.5, 0.5]^3 (longest side 1);
* chamfer_l2: the same with squared distances;
* chamfer_deepsdf: DeepSDF's, 30,000 points a side, squared, the sum of the two means, in the
  same unit-box units (DeepSDF itself uses mesh units);
* normal_consistency: mean |cos| between each point's normal and its nearest neighbour's, both
  directions averaged;
* fscore_1pct: F-score at tau = 0.01 shape units (1% of the shape's longest side);
* iou: volumetric IoU of inside/outside on 100,000 uniform points of the box (the reference by
  generalised winding number, the decoded field by its sign, trilinearly interpolated).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shape_io import Mesh, inside, sample_surface

CONVENTIONS = {
    "chamfer_l1": "OccNet Chamfer-L1: 100k pts/side, unsquared, 0.5 x (acc + comp), unit box",
    "chamfer_l2": "OccNet Chamfer-L2: 100k pts/side, squared, 0.5 x (acc + comp), unit box",
    "chamfer_deepsdf": "DeepSDF Chamfer: 30k pts/side, squared, acc + comp, unit box",
    "normal_consistency": "mean |cos| to the nearest point's normal, both directions, 100k pts",
    "fscore_1pct": "F-score at tau = 0.01 (1% of the longest side), 100k pts/side",
    "iou": "volumetric IoU on 100k uniform points in [-0.5, 0.5]^3",
}
POINTS, DEEPSDF_POINTS, IOU_POINTS = 100_000, 30_000, 100_000


@dataclass(frozen=True)
class ReferenceSamples:
    points: np.ndarray  # [POINTS, 3] on the input surface (shape units)
    normals: np.ndarray
    uniform: np.ndarray  # [IOU_POINTS, 3] in [-0.5, 0.5]^3
    inside: np.ndarray  # bool [IOU_POINTS]

    @staticmethod
    def of(mesh: Mesh, seed: int) -> "ReferenceSamples":
        points, normals = sample_surface(mesh, POINTS, seed)
        uniform = np.random.default_rng(seed).random((IOU_POINTS, 3)) - 0.5
        return ReferenceSamples(points, normals, uniform, inside(mesh, uniform))


def _nearest(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial import cKDTree

    distance, index = cKDTree(b).query(a)
    return distance, index


def mesh_metrics(ref: ReferenceSamples, vertices: np.ndarray, faces: np.ndarray, decoded_inside: np.ndarray) -> dict[str, float]:
    """Every metric of a decoded mesh (shape units) against the reference; `decoded_inside`:
    whether each of the reference's uniform points is inside the decoded shape."""
    union = np.sum(decoded_inside | ref.inside)
    iou = float(np.sum(decoded_inside & ref.inside) / union) if union else 1.0
    if len(faces) == 0:
        return {"chamfer_l1": float("inf"), "chamfer_l2": float("inf"), "chamfer_deepsdf": float("inf"),
                "normal_consistency": 0.0, "fscore_1pct": 0.0, "iou": iou}
    points, normals = sample_surface(Mesh(vertices, faces), POINTS, 7)
    acc, to_ref = _nearest(points, ref.points)  # decoded -> reference
    comp, to_dec = _nearest(ref.points, points)  # reference -> decoded
    cos_a = np.abs(np.sum(normals * ref.normals[to_ref], axis=1))
    cos_b = np.abs(np.sum(ref.normals * normals[to_dec], axis=1))
    tau = 0.01
    precision, recall = float(np.mean(acc < tau)), float(np.mean(comp < tau))
    d_acc, _ = _nearest(points[:DEEPSDF_POINTS], ref.points[:DEEPSDF_POINTS])
    d_comp, _ = _nearest(ref.points[:DEEPSDF_POINTS], points[:DEEPSDF_POINTS])
    return {
        "chamfer_l1": float(0.5 * (acc.mean() + comp.mean())),
        "chamfer_l2": float(0.5 * (np.mean(acc**2) + np.mean(comp**2))),
        "chamfer_deepsdf": float(np.mean(d_acc**2) + np.mean(d_comp**2)),
        "normal_consistency": float(0.5 * (np.nanmean(cos_a) + np.nanmean(cos_b))),
        "fscore_1pct": 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall),
        "iou": iou,
    }
