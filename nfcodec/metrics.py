"""Quality metrics, computed the same way for every codec and report."""
from __future__ import annotations

import math

import numpy as np


def mse(reference: np.ndarray, test: np.ndarray) -> float:
    diff = reference.astype(np.float64) - test.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr(reference: np.ndarray, test: np.ndarray, peak: float) -> float:
    """PSNR in dB of `test` against `reference` with the given peak value (inf when equal)."""
    error = mse(reference, test)
    return math.inf if error == 0.0 else 10.0 * math.log10(peak * peak / error)


def psnr_from_mse(error: float, peak: float = 1.0) -> float:
    return math.inf if error <= 0.0 else 10.0 * math.log10(peak * peak / error)
