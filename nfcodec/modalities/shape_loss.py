"""Training losses for signed distance fields. A batch's values are [B, 5]: the signed distance
(0 on the surface), the surface normal (surface points), and the kind (shape.SURFACE, NEAR,
UNIFORM); coordinates are in the field's [0, 1]^3, which spans shape.BOX shape units."""
from __future__ import annotations

import torch

from ..train.loop import fixed_order_mean
from ..train.samplers import Batch

TRUNCATION = 0.1  # shape units: distances beyond are clamped (the surface is what matters)
# SIREN's SDF loss weights (Sitzmann et al. 2020; the streamable-fields code uses the same)
W_SURFACE, W_OFF, W_NORMAL, W_EIKONAL = 3e3, 1e2, 1e2, 5e1
OFF_SURFACE_ALPHA = 100.0


def sdf_regression_loss(field, batch: Batch, stage: int) -> torch.Tensor:
    """L1 between the field and the clamped signed distance, at every point (the grid's loss:
    its kernels give no second derivatives, and distances are known everywhere here)."""
    predicted = field.forward(batch.coords, stage, batch.lattice).float()[:, 0]
    target = batch.values[:, 0]
    return fixed_order_mean(torch.abs(predicted.clamp(-TRUNCATION, TRUNCATION) - target.clamp(-TRUNCATION, TRUNCATION)))


def siren_sdf_loss(field, batch: Batch, stage: int) -> torch.Tensor:
    """The SIREN SDF loss: |f| on the surface, exp(-alpha |f|) off it (uniform points: no
    distance used), 1 - cos(grad f, n) on the surface, and the eikonal | |grad f| - 1 | at every
    point. Gradients are taken in shape units."""
    from .shape import BOX, SURFACE, UNIFORM

    coords = batch.coords.detach().requires_grad_(True)
    predicted = field.forward(coords, stage).float()[:, 0]
    (grad,) = torch.autograd.grad(predicted.sum(), coords, create_graph=True)
    grad = grad / BOX  # d/d(shape units)
    kind = batch.values[:, 4]
    surface, uniform = kind == SURFACE, kind == UNIFORM
    terms = W_EIKONAL * fixed_order_mean(torch.abs(grad.norm(dim=1) - 1.0))
    if bool(surface.any()):
        normals = batch.values[surface, 1:4]
        terms = terms + W_SURFACE * fixed_order_mean(torch.abs(predicted[surface]))
        terms = terms + W_NORMAL * fixed_order_mean(1.0 - torch.nn.functional.cosine_similarity(grad[surface], normals, dim=1))
    if bool(uniform.any()):
        terms = terms + W_OFF * fixed_order_mean(torch.exp(-OFF_SURFACE_ALPHA * torch.abs(predicted[uniform])))
    return terms
