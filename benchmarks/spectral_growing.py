"""Spectral growing on Kodak crops: progressive SIREN vs individually trained SIRENs.

A CPU-budget rerun of the image "spectral growing" comparison of Cho et al., "Streamable Neural
Fields" (ECCV 2022; see ../shared/notes/streamable_fields.md):

  (a) progressive: one ProgressiveSiren with stage widths 30/69/110/151 (4 hidden layers),
      `--steps` steps per stage, earlier stages frozen;
  (b) individual:  four plain SIRENs of widths 30/60/90/120, each trained `--steps` steps;
  (c) slimmable (optional, `--slimmable`): one SIREN of width 120 whose every step sums the
      losses of its nested widths 30/60/90/120 (the paper's slimmable baseline), trained
      `--steps` steps in all (so it sees each width `--steps` times, as (b) does).

Both (a) and (b) use nfcodec.train.fit_progressive with the same TrainConfig (Adam, same lr and
schedule, same seed, full batch), so the only difference is how the widths are trained. PSNR is
measured on 8-bit rounded output against the 8-bit crop (nfcodec.metrics.psnr, peak 255).

    python benchmarks/spectral_growing.py --steps 300 --threads 1   # the recorded run (~18 min, 2 CPU cores)
    python benchmarks/spectral_growing.py --images 01 --crop 64 --steps 50   # a quick look

Absolute dB are NOT comparable with the paper's (whole 768x512 images, 50,000 steps per stage at
lr 2e-4 on a GPU); the ordering and the gaps between progressive and individual are.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from nfcodec.fields.siren import siren_field, dense_params, progressive_params
from nfcodec.metrics import psnr
from nfcodec.modalities.image import pixel_coords, read_image
from nfcodec.train import Adam, InMemorySampler, TrainConfig, cosine_factor, fit_progressive, optimise, predict

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "spectral_growing.json"
# Textured centre crops spread over the set (kodim23's centre crop is nearly flat, so kodim18).
DEFAULT_IMAGES = ("01", "05", "13", "18")

PROGRESSIVE_WIDTHS = (30, 69, 110, 151)
INDIVIDUAL_WIDTHS = (30, 60, 90, 120)
HIDDEN_LAYERS = 4

# Published Kodak results (24 full images, PSNR dB per sub-network), from the paper's table.
PAPER = {
    "individual": [24.39, 27.22, 29.78, 31.19],
    "slimmable": [23.72, 25.64, 27.29, 29.19],
    "progressive": [24.39, 27.30, 29.29, 30.91],
}
# Parameter counts per sub-network from the paper's table.
PAPER_PARAMS = {
    "progressive": [3903, 15057, 33507, 58681],
    "individual": [3903, 15003, 33303, 58803],
}


# ---- inputs ------------------------------------------------------------------------------------

def image_path(name: str, data_dir: Path) -> Path:
    """'1', '01', 'kodim01', 'kodim01.png' or a path -> the PNG's path."""
    p = Path(name)
    if p.suffix and p.is_file():
        return p
    stem = p.stem
    if stem.isdigit():
        stem = f"kodim{int(stem):02d}"
    return data_dir / f"{stem}.png"


def centre_crop(pixels: np.ndarray, size: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    if size <= 0 or size > min(h, w):
        raise ValueError(f"crop {size} does not fit a {h}x{w} image")
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(pixels[top : top + size, left : left + size, :3])


def to_uint8(values: torch.Tensor, size: int) -> np.ndarray:
    return np.rint(np.clip(values.numpy(), 0.0, 1.0) * 255.0).astype(np.uint8).reshape(size, size, -1)


# ---- methods -----------------------------------------------------------------------------------

def run_progressive(coords, values, reference, size, config, init_bias):
    field = siren_field(PROGRESSIVE_WIDTHS, hidden_layers=HIDDEN_LAYERS)
    at_stage_end: dict[int, torch.Tensor] = {}

    def on_stage_end(stage, fit):
        at_stage_end[stage] = predict(field, coords, stage)

    start = time.perf_counter()
    fits = fit_progressive(field, InMemorySampler(coords, values, config.batch_size), config, on_stage_end=on_stage_end,
                           initial_bias=init_bias)
    seconds = time.perf_counter() - start
    psnrs, drift = [], 0.0
    for stage in range(1, len(PROGRESSIVE_WIDTHS) + 1):
        out = predict(field, coords, stage)
        # Freezing check: an earlier width must decode exactly as it did when its stage ended.
        drift = max(drift, float((out - at_stage_end[stage]).abs().max()))
        psnrs.append(psnr(reference, to_uint8(out, size), 255.0))
    return {
        "psnr": psnrs,
        "seconds": seconds,
        "stage_seconds": [f.seconds for f in fits],
        "final_batch_psnr": [f.batch_psnr for f in fits],
        "max_abs_drift_of_earlier_widths": drift,
    }


def run_individual(coords, values, reference, size, config, init_bias):
    psnrs, secs, batch = [], [], []
    for width in INDIVIDUAL_WIDTHS:
        field = siren_field((width,), hidden_layers=HIDDEN_LAYERS)
        start = time.perf_counter()
        fits = fit_progressive(field, InMemorySampler(coords, values, config.batch_size), config, initial_bias=init_bias)
        secs.append(time.perf_counter() - start)
        batch.append(fits[-1].batch_psnr)
        psnrs.append(psnr(reference, to_uint8(predict(field, coords, 1), size), 255.0))
    return {"psnr": psnrs, "seconds": sum(secs), "width_seconds": secs, "final_batch_psnr": batch}


def run_slimmable(coords, values, reference, size, config, init_bias):
    """One width-120 SIREN; each step's loss is the sum over the nested widths 30/60/90/120.

    Built on ProgressiveSiren (whose forward at stage k slices every layer to [:w_k, :w_k]) with a
    full width-120 SIREN init and every entry trainable: that slicing is exactly a slimmable net.
    Same Adam, lr schedule and seed as the other methods: nfcodec.train's one loop with a loss
    summed over the widths and no freezing.
    """
    generator = torch.Generator().manual_seed(config.seed)
    full = siren_field((INDIVIDUAL_WIDTHS[-1],), hidden_layers=HIDDEN_LAYERS)
    full.grow(1, generator)
    field = siren_field(INDIVIDUAL_WIDTHS, hidden_layers=HIDDEN_LAYERS)
    field.load_state_dict(full.state_dict())
    if init_bias is not None:
        field.set_output_bias(init_bias)
    optimiser = Adam(field.parameters(), lr=config.lr)
    stages = range(1, len(INDIVIDUAL_WIDTHS) + 1)

    def every_width(model, batch, _stage):
        return sum(torch.mean((model.forward(batch.coords, k, batch.lattice) - batch.values) ** 2) for k in stages)

    start = time.perf_counter()
    optimise(field, optimiser, InMemorySampler(coords, values, coords.shape[0]), stages[-1], generator,
             steps=config.steps, lr=config.lr, lr_factor=lambda step: cosine_factor(step, config.steps, config.final_lr_fraction),
             loss=every_width, precision=config.precision, freeze=False)
    seconds = time.perf_counter() - start
    psnrs = [psnr(reference, to_uint8(predict(field, coords, k), size), 255.0) for k in stages]
    return {"psnr": psnrs, "seconds": seconds}


METHODS = {"progressive": run_progressive, "individual": run_individual, "slimmable": run_slimmable}


# ---- reporting ---------------------------------------------------------------------------------

def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=10)
        return commit + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def param_table() -> dict[str, Any]:
    prog = progressive_params(PROGRESSIVE_WIDTHS, hidden_layers=HIDDEN_LAYERS)
    indiv = [dense_params(w, hidden_layers=HIDDEN_LAYERS) for w in INDIVIDUAL_WIDTHS]
    return {
        "progressive_widths": list(PROGRESSIVE_WIDTHS),
        "individual_widths": list(INDIVIDUAL_WIDTHS),
        "progressive": prog,
        "individual": indiv,
        "matches_paper": prog == PAPER_PARAMS["progressive"] and indiv == PAPER_PARAMS["individual"],
    }


def fmt(x: float) -> str:
    return f"{x:6.2f}" if math.isfinite(x) else "   inf"


def results_table(mean: dict[str, list[float]], params: dict[str, Any]) -> str:
    """Markdown table: per sub-network, ours vs the paper's and the gap (ours - paper)."""
    methods = [m for m in ("individual", "progressive", "slimmable") if m in mean]
    both = "individual" in mean and "progressive" in mean
    head = ["k", "width prog / indiv", "params prog / indiv", *methods]
    if both:
        head.append("prog - indiv")
    head += [f"paper {m}" for m in methods]
    head += ["paper prog - indiv"] if both else []
    head.append("gap to paper (" + " / ".join(methods) + ")")
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k in range(len(PROGRESSIVE_WIDTHS)):
        cells = [str(k + 1), f"{PROGRESSIVE_WIDTHS[k]} / {INDIVIDUAL_WIDTHS[k]}",
                 f"{params['progressive'][k]:,} / {params['individual'][k]:,}"]
        cells += [fmt(mean[m][k]).strip() for m in methods]
        if both:
            cells.append(f"{mean['progressive'][k] - mean['individual'][k]:+.2f}")
        cells += [f"{PAPER[m][k]:.2f}" for m in methods]
        if both:
            cells.append(f"{PAPER['progressive'][k] - PAPER['individual'][k]:+.2f}")
        cells.append(" / ".join(f"{mean[m][k] - PAPER[m][k]:+.2f}" for m in methods))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot(path: Path, mean: dict[str, list[float]], title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot (pip install matplotlib)", file=sys.stderr)
        return False
    x = np.arange(1, len(PROGRESSIVE_WIDTHS) + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    colours = {"individual": "tab:blue", "progressive": "tab:red", "slimmable": "tab:green"}
    for method, values in mean.items():
        ax.plot(x, values, "o-", color=colours[method], label=f"{method} (ours)")
        ax.plot(x, PAPER[method], "s--", color=colours[method], alpha=0.5, label=f"{method} (paper, full Kodak)")
    ax.set_xticks(x, [f"{k}\n{p}/{i}" for k, p, i in zip(x, PROGRESSIVE_WIDTHS, INDIVIDUAL_WIDTHS)])
    ax.set_xlabel("sub-network (width progressive / individual)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


# ---- main --------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--images", nargs="+", default=list(DEFAULT_IMAGES),
                    help="Kodak images: numbers (01), names (kodim01) or PNG paths; commas also separate")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--crop", type=int, default=128, help="side of the square centre crop")
    ap.add_argument("--steps", type=int, default=300, help="steps per stage (progressive) / per network (individual)")
    ap.add_argument("--lr", type=float, default=1e-3, help="peak Adam lr (same for every method)")
    ap.add_argument("--final-lr-fraction", type=float, default=TrainConfig.final_lr_fraction,
                    help="cosine decay to lr * this over each stage (1.0 = constant lr, as in the paper)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-bias", choices=("mean", "none"), default="mean",
                    help="start the output bias at the crop's mean colour (as the codec does) or at the SIREN init")
    ap.add_argument("--methods", nargs="+", choices=tuple(METHODS), default=["progressive", "individual"],
                    help="methods to train")
    ap.add_argument("--slimmable", action="store_true", help="also train the slimmable baseline")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads for the run (restored afterwards); 1 is faster on a loaded 2-core machine")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path")
    ap.add_argument("--plot", type=Path, default=None, help="PNG plot path (default: --out with .png)")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    args.images = [name for item in args.images for name in item.split(",") if name]
    if args.steps < 1 or args.crop < 1 or args.lr <= 0:
        ap.error("--steps and --crop must be positive, --lr > 0")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return run(args, argv)
    finally:
        torch.set_num_threads(threads)  # main() is importable: leave the caller's setting alone


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    say = (lambda *a, **k: None) if args.quiet else (lambda *a, **k: print(*a, **k, flush=True))
    methods = list(dict.fromkeys(args.methods + (["slimmable"] if args.slimmable else [])))
    commit = git_commit()  # at start: the code this run imported

    params = param_table()
    say("parameters per sub-network (progressive_params / dense_params):")
    for k in range(len(PROGRESSIVE_WIDTHS)):
        say(f"  {k + 1}: progressive w={PROGRESSIVE_WIDTHS[k]:3d} {params['progressive'][k]:6,d}   "
            f"individual w={INDIVIDUAL_WIDTHS[k]:3d} {params['individual'][k]:6,d}")
    say(f"  match the paper's table: {params['matches_paper']}")

    config = TrainConfig(steps=args.steps, lr=args.lr, final_lr_fraction=args.final_lr_fraction, seed=args.seed,
                         batch_size=max(TrainConfig.batch_size, args.crop * args.crop))  # full batch
    per_image: dict[str, Any] = {}
    for name in args.images:
        path = image_path(name, args.data_dir)
        crop = centre_crop(read_image(path).pixels, args.crop)
        if crop.dtype != np.uint8:
            raise ValueError(f"{path}: expected an 8-bit image")
        coords = torch.from_numpy(pixel_coords(args.crop, args.crop))
        values = torch.from_numpy(crop.reshape(-1, 3).astype(np.float32) / 255.0)
        init_bias = values.mean(dim=0) if args.init_bias == "mean" else None
        entry: dict[str, Any] = {"path": str(path), "crop": [args.crop, args.crop]}
        for method in methods:
            torch.manual_seed(args.seed)  # nothing should use the global RNG; pin it anyway
            res = METHODS[method](coords, values, crop, args.crop, config, init_bias)
            entry[method] = res
            say(f"{path.stem} {method:11s} " + " ".join(fmt(p) for p in res["psnr"]) + f"  dB  {res['seconds']:7.1f} s")
        per_image[path.stem] = entry

    mean = {m: [float(np.mean([per_image[i][m]["psnr"][k] for i in per_image])) for k in range(len(PROGRESSIVE_WIDTHS))]
            for m in methods}
    seconds = {m: float(sum(per_image[i][m]["seconds"] for i in per_image)) for m in methods}
    table = results_table(mean, params)
    say(f"\nmean PSNR over {len(per_image)} crop(s) of {args.crop}x{args.crop}, {args.steps} steps per stage/network, "
        f"lr {args.lr:g} (8-bit rounded, dB):")
    say(table)
    say("wall time: " + ", ".join(f"{m} {s:.1f} s" for m, s in seconds.items()))

    result = {
        "benchmark": "spectral_growing",
        "command": shlex.join(["python", "benchmarks/spectral_growing.py", *argv]),
        "argv": argv,
        "process_argv": list(sys.argv),
        "git_commit": commit,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "settings": {
            "images": list(per_image),
            "crop": args.crop,
            "steps": args.steps,
            "lr": args.lr,
            "final_lr_fraction": args.final_lr_fraction,
            "seed": args.seed,
            "init_bias": args.init_bias,
            "batch": "full" if config.batch_size >= args.crop * args.crop else config.batch_size,
            "hidden_layers": HIDDEN_LAYERS,
            "optimiser": "Adam (fresh per stage / per network), cosine lr decay; progressive and individual via "
                         "nfcodec.train.fit_progressive, slimmable through the same loop (nfcodec.train.optimise) with a loss summed over widths",
            "methods": methods,
            "psnr": "nfcodec.metrics.psnr on 8-bit rounded output, peak 255",
        },
        "params": params,
        "paper": {"psnr": PAPER, "params": PAPER_PARAMS,
                  "recipe": "whole 768x512 Kodak images (24), 50,000 steps per stage, Adam lr 2e-4, GPU"},
        "per_image": per_image,
        "mean": {"psnr": mean, "seconds": seconds},
        "gap_to_paper": {m: [mean[m][k] - PAPER[m][k] for k in range(len(PROGRESSIVE_WIDTHS))] for m in methods},
        "table_markdown": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, allow_nan=True) + "\n")
    say(f"wrote {args.out}")
    if not args.no_plot:
        png = args.plot or args.out.with_suffix(".png")
        title = (f"Spectral growing, {len(per_image)} Kodak centre crop(s) {args.crop}x{args.crop}, "
                 f"{args.steps} steps/stage, lr {args.lr:g}\n(paper: full images, 50k steps/stage, GPU)")
        if plot(png, mean, title):
            say(f"wrote {png}")
    return result


if __name__ == "__main__":
    main()
