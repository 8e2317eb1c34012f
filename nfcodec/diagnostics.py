"""Warnings about an encode's result that a user would otherwise miss: a file larger than what
it encodes, very low quality (a modality warns of its own degenerate signals: Modality.warnings).
One line each; the CLI prints them on stderr and `--json` carries them as `warnings`."""
from __future__ import annotations

import math

LOW_PSNR_DB = 20.0  # below this a decoded image is visibly wrong everywhere


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


def format_quality(metrics: dict[str, float], headline: str) -> str:
    """A stage's headline quality for people: PSNR in dB, or a named metric (a shape's Chamfer)."""
    if headline == "psnr":
        return format_psnr(metrics["psnr"])
    return f"{headline} {metrics[headline]:.3g}"


def format_psnr(value: float) -> str:
    """PSNR for people: 'lossless' where the decoded signal equals the input (infinite dB)."""
    return "lossless" if math.isinf(value) and value > 0 else f"{value:.2f} dB"
