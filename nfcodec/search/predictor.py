"""A cheap ranking of transforms before any probe fit, from statistics of the signal; and the
encode's learning rate from the whole image (rate_factor, at the end).

Two effects the transform papers tie to fitting speed (../shared/notes/transforms.md):
* spectral difficulty: fields learn low frequencies first (spectral bias), so the energy a
  transformed signal holds at high spatial frequencies is what takes steps; a random
  permutation turns an image into white noise, a pointwise map barely changes the spectrum;
* error amplification: the decoder inverts the transform, so an error e on the trained signal
  becomes e * (T^-1)'(y) on the original: halving the values halves what must be fitted but
  doubles every error; gamma stretches dark or bright regions;
(magnitude bias, the third effect the papers report, is left out: our fields learn an output
offset, so a constant shift is free, and a global scale is what the learning-rate axis of the
search already covers).

score = log10(frequency-weighted spectral energy of T(x) * mean (T^-1)'(y)^2): an estimate of
the original-domain error energy left after a fixed budget; lower is easier. Affine maps score
exactly as the identity does (their scale cancels), so the search treats candidates within
EQUIVALENT of a better-ranked one as the same and probes only distinct ones. It orders and
prunes the probes; `benchmarks/search_payoff.py` reports how often its first choice is the
measured winner.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..transforms import fit_transform

EQUIVALENT = 0.005  # scores closer than this (log10 units, ~1%) predict the same fitting cost
SLOPE_STEP = 1e-3  # finite-difference step for the inverse's derivative


@dataclass(frozen=True)
class Prediction:
    preset: str
    score: float  # lower is predicted faster
    spectral: float  # log10 frequency-weighted energy of the trained signal
    amplification: float  # mean squared slope of the inverse


def frequency_weighted_energy(values: np.ndarray) -> float:
    """Sum over the 2-D spectrum of |Y(f)|^2 * |f| / f_max, per pixel and channel, of a
    [H, W, C] array (mean removed): energy weighted by how high its frequency is."""
    h, w, c = values.shape
    centred = values - values.reshape(-1, c).mean(axis=0)
    spectrum = np.abs(np.fft.rfft2(centred, axes=(0, 1))) ** 2
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.sqrt(fy**2 + fx**2) / math.sqrt(0.5)
    # rfft2 keeps half the spectrum: columns 1..(w-1)//2 stand for two conjugate bins each
    weight = np.full(fx.shape, 2.0)
    weight[:, 0] = 1.0
    if w % 2 == 0:
        weight[:, -1] = 1.0
    return float((spectrum * (radius * weight)[..., None]).sum() / (h * w) ** 2 / c)


def inverse_slope_sq(transform: object, trained: np.ndarray) -> float:
    """Mean of (T^-1)'(y)^2 over the trained values (1 for permutations)."""
    if getattr(transform, "moves_positions", False):
        return 1.0
    y = trained.astype(np.float64)
    lo = transform.inverse((y - SLOPE_STEP).astype(np.float32)).astype(np.float64)
    hi = transform.inverse((y + SLOPE_STEP).astype(np.float32)).astype(np.float64)
    slope = (hi - lo) / (2 * SLOPE_STEP)
    return float(np.mean(slope**2))


def predict(values: np.ndarray, presets: list[str], seed: int = 0) -> list[Prediction]:
    """Rank `presets` for the signal values [H, W, C] in [0, 1], easiest first."""
    out = []
    for name in presets:
        transform = fit_transform(name, values, seed)
        trained = transform.forward(values)
        spectral = frequency_weighted_energy(trained)
        amplification = inverse_slope_sq(transform, trained)
        score = math.log10(max(spectral * amplification, 1e-30))
        out.append(Prediction(name, score, math.log10(max(spectral, 1e-30)), amplification))
    return sorted(out, key=lambda p: (p.score, presets.index(p.preset)))


def distinct(predictions: list[Prediction], first: str) -> tuple[list[Prediction], dict[str, str]]:
    """Predictions with near-equal scores merged into one representative: `first` (the
    identity) wherever it is among them, else the best ranked. Returns the representatives in
    rank order and, for each merged preset, the one it was merged into."""
    reps: list[Prediction] = []
    merged: dict[str, str] = {}
    anchor = next((p for p in predictions if p.preset == first), None)
    for p in predictions:
        if anchor is not None and p is not anchor and abs(p.score - anchor.score) < EQUIVALENT:
            merged[p.preset] = anchor.preset
            continue
        match = next((r for r in reps if abs(r.score - p.score) < EQUIVALENT), None)
        if match is not None and p is not anchor:
            merged[p.preset] = match.preset
            continue
        reps.append(p)
    return reps, merged


def mean_luma_gradient(values: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels of the channel mean of [H, W, C]
    values in [0, 1], down the columns plus along the rows: fine detail per pixel."""
    luma = np.asarray(values, dtype=np.float32).mean(axis=-1)
    down = float(np.mean(np.abs(np.diff(luma, axis=0)))) if luma.shape[0] > 1 else 0.0
    across = float(np.mean(np.abs(np.diff(luma, axis=1)))) if luma.shape[1] > 1 else 0.0
    return down + across


def rate_factor(values: np.ndarray, threshold: float, raised: float) -> tuple[float, float]:
    """(learning-rate factor, statistic) for a whole image: `raised` where its mean luma
    gradient reaches `threshold` (textured images fit faster at a higher rate; on smooth ones
    it leaves noise the budget cannot remove), else 1."""
    gradient = mean_luma_gradient(values)
    return (raised if gradient >= threshold else 1.0), gradient
