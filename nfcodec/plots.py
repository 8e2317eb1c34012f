"""Plots people would rather look at than read: quality per decodable width (needs matplotlib,
the `plot` extra)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from .errors import UsageError
from .fsutil import atomic_write


def require_matplotlib() -> None:
    """UsageError now, before minutes of work, when a plot was asked for without matplotlib."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError("--plot needs matplotlib: pip install 'nfcodec[plot]'")


def plot_width_quality(stages: Sequence[Any], path: str | os.PathLike, title: str = "") -> Path:
    """PSNR of each decodable width against the bytes needed to decode it (a file prefix)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'nfcodec[plot]'") from None
    kilobytes = [s.prefix_bytes / 1000 for s in stages]
    psnrs = [s.psnr for s in stages]
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=120)
    ax.plot(kilobytes, psnrs, marker="o")
    for s, x, y in zip(stages, kilobytes, psnrs):
        ax.annotate(f"width {s.index}", (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel("bytes needed to decode (kB, file prefix)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title or "quality per decodable width", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png")

    try:
        return atomic_write(path, write)
    finally:
        plt.close(fig)
