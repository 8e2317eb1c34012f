"""The report's figures (matplotlib, the `plot` extra): rate-distortion curves per modality
(every preset's stages marked, every classic codec's settings) and per-input quality bars per
stage, each as PNG and SVG."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write

LOWER_IS_BETTER = frozenset({"chamfer_l1"})
UNIT = {"psnr": "PSNR (dB)", "chamfer_l1": "Chamfer-L1 (shape in [-0.5, 0.5]^3, lower is better)"}


def _pyplot() -> Any:
    from ..plots import require_matplotlib

    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, stem: Path) -> list[Path]:
    paths = []
    for fmt in ("png", "svg"):
        paths.append(atomic_write(stem.with_suffix("." + fmt), lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt)))
    return paths


def rd_plot(curves: list[Any], stem: Path, modality: str, headline: str, rate_unit: str) -> list[Path]:
    """Quality against rate (log axis): one line per preset and per classic codec; our points
    are the file's decodable widths (a prefix of one file each), labelled w1..wK."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.6), dpi=120)
    try:
        for curve in curves:
            points = [(x, y) for x, y in curve.points if math.isfinite(x) and math.isfinite(y) and x > 0]
            if not points:
                continue
            xs, ys = zip(*points)
            ours = curve.kind == "ours"
            ax.plot(xs, ys, marker="o" if ours else ".", linewidth=2.2 if ours else 1.2, markersize=7 if ours else 5,
                    label=f"{curve.label} ({curve.inputs} inputs)")
            if ours:
                for (x, y), note in zip(points, curve.notes):
                    ax.annotate(note, (x, y), textcoords="offset points", xytext=(5, -11), fontsize=7)
        ax.set_xscale("log")
        if headline in LOWER_IS_BETTER:
            ax.set_yscale("log")
        ax.set_xlabel(f"rate ({rate_unit}, mean over inputs)")
        ax.set_ylabel(f"{UNIT.get(headline, headline)}, mean over inputs")
        ax.set_title(f"{modality}: rate-distortion", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        return _save(fig, stem)
    finally:
        plt.close(fig)


def stage_bars(rows: list[dict[str, Any]], stem: Path, modality: str, headline: str) -> list[Path]:
    """Each input's headline quality at every decodable width, as grouped bars."""
    plt = _pyplot()
    depth = max((len(r["stages"]) for r in rows), default=0)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(rows) * max(depth, 1) / 2 + 2), 4.2), dpi=120)
    try:
        width = 0.8 / max(depth, 1)
        for k in range(depth):
            values = [_finite(r["stages"][k]["quality"].get(headline)) if len(r["stages"]) > k else math.nan for r in rows]
            ax.bar([i + (k - (depth - 1) / 2) * width for i in range(len(rows))], values, width, label=f"width {k + 1}")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r["input"] for r in rows], rotation=60, ha="right", fontsize=7)
        if headline in LOWER_IS_BETTER:
            ax.set_yscale("log")
        elif rows:
            low = min((v for r in rows for s in r["stages"] if math.isfinite(v := _finite(s["quality"].get(headline)))), default=0)
            ax.set_ylim(bottom=max(0.0, low - 3))
        ax.set_ylabel(UNIT.get(headline, headline))
        ax.set_title(f"{modality}: quality per decodable width", fontsize=10)
        ax.legend(fontsize=7, ncol=min(depth, 4))
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        return _save(fig, stem)
    finally:
        plt.close(fig)


def _finite(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else math.nan
