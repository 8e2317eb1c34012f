"""Warnings about an encode's result that a user would otherwise miss: a file larger than what
it encodes, very low quality, a degenerate signal. One line each; the CLI prints them on stderr
and `--json` carries them as `warnings`."""
from __future__ import annotations

import math

import numpy as np

LOW_PSNR_DB = 20.0  # below this a decoded image is visibly wrong everywhere
TINY_SIDE = 8  # fields pay a fixed cost (MLP, coarse levels) that a signal this small cannot repay


def signal_warnings(pixels: np.ndarray) -> list[str]:
    """Degenerate images, known before any training: tiny, or one constant colour."""
    height, width = pixels.shape[:2]
    warnings = []
    if min(height, width) < TINY_SIDE:
        warnings.append(f"the image is tiny ({width}x{height}): a neural field's fixed size dominates; a PNG stores it in fewer bytes")
    flat = pixels.reshape(-1, pixels.shape[-1])
    if flat.shape[0] > 1 and bool(np.all(flat == flat[0])):
        warnings.append("the image is one constant colour: a PNG stores it in a few bytes")
    return warnings


def result_warnings(file_bytes: int, raw_bytes: int, final_psnr: float) -> list[str]:
    """An encode's outcome worth a second look: the file outgrew the raw samples, or the
    quality is too low to be useful."""
    warnings = []
    if file_bytes > raw_bytes:
        warnings.append(f"the .nff ({file_bytes} bytes) is larger than the raw pixels ({raw_bytes} bytes)")
    if math.isfinite(final_psnr) and final_psnr < LOW_PSNR_DB:
        warnings.append(
            f"low quality: {final_psnr:.1f} dB at full width (noise-like signals do not compress as fields; "
            "more --steps may help)"
        )
    return warnings


def format_psnr(value: float) -> str:
    """PSNR for people: 'lossless' where the decoded signal equals the input (infinite dB)."""
    return "lossless" if math.isinf(value) and value > 0 else f"{value:.2f} dB"
