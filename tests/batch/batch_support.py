"""Helpers of the batch tests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
# tiny encodes: the batch machinery is under test, not the fit
FAST = ["--stages", "2", "--steps", "6", "--transform", "none", "-q"]


def make_images(folder: Path, pixels: np.ndarray, count: int) -> Path:
    import imageio.v3 as iio

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        sub = folder / ("nested" if i % 3 == 2 else ".")
        sub.mkdir(exist_ok=True)
        iio.imwrite(sub / f"img{i:02d}.png", pixels[100 + 20 * i:124 + 20 * i, 200 + 10 * i:232 + 10 * i])
    return folder


def read_report(outdir: Path) -> dict:
    return json.loads((outdir / "report.json").read_text())
