"""Rendering a field to image pixels: shared by the encoder (to score each stage) and every
decoder, so the PSNR an encode reports is exactly what decoding gives."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .signals.image import ImageGeometry, pixel_coords
from .train import predict
from .transforms import Transform

RENDER_BLOCK_POINTS = 1 << 16


def render_image(field_model: Any, transform: Transform, geometry: ImageGeometry, stage: int, device: torch.device) -> np.ndarray:
    """The image at stage count `stage`: the field evaluated in blocks of rows into a
    preallocated array, so memory stays near the output's size.

    A pointwise transform is inverted block by block. A positional one (a permutation) needs the
    whole image: the trained-domain image is rendered to samples first, then its samples are
    moved back (rounding commutes with moving samples, so this equals permuting floats)."""
    out = np.empty((geometry.height, geometry.width, geometry.channels), dtype=geometry.dtype)
    pointwise = not transform.moves_positions
    rows = max(1, RENDER_BLOCK_POINTS // geometry.width)
    for r0 in range(0, geometry.height, rows):
        r1 = min(geometry.height, r0 + rows)
        coords = torch.from_numpy(pixel_coords(geometry.height, geometry.width, slice(r0, r1))).to(device)
        values = predict(field_model, coords, stage, chunk=RENDER_BLOCK_POINTS).cpu().numpy()
        out[r0:r1] = geometry.to_pixels(transform.inverse(values) if pointwise else values, r1 - r0)
    if pointwise:
        return out
    return transform.inverse(out.reshape(-1, geometry.channels)).reshape(out.shape)
