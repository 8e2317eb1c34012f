"""Steps to a PSNR target per data transform: the workshop paper's Table 1 protocol, on a CPU.

Protocol (Seo et al., "In Search of a Data Transformation that Accelerates Neural Field
Training", workshop version; ../shared/notes/transforms.md): every Kodak image, converted to
grey (BT.601 luma of the sRGB values; not linearised, as in the workshop paper) and centre
cropped; full-batch training; for each transform the learning rate is tuned from a grid and the
cost is the fewest steps, over that grid, until the reconstruction *on the original signal*
(the field's output mapped back with the inverse transform) reaches the target PSNR.

* grid:  Instant-NGP's image configuration (L=16, F=2, T=2^19, N_min=16, N_max=crop side, MLP
         2 x 64 ReLU), 512 x 512 crops (the paper's), Adam(0.9, 0.99, 1e-15), bf16 MLP steps
         where the CPU has native bf16 (what `nfc encode` runs), lr grid 1e-2, 2e-2, 4e-2 (a first
         run's grid 5e-3 / 1e-2 / 2e-2 had its best at the top for most runs, never at 5e-3).
* siren: the paper's SIREN (3 hidden layers, w0 = 30) scaled to what 2 CPU cores can run: 64 x 64
         crops and width 64, which keeps the paper's ~3 parameters per pixel (3 x 512 on
         512 x 512); fp32, Adam default betas, lr grid 1e-3, 3e-3, 1e-2.

The PSNR at step t is read from the training loss (the MSE of the parameters before update t,
over every pixel, so no extra evaluation), converted to the original domain with the
transform's exact factor (nfcodec.transforms: identity, inversion and permutations 1,
affine a^-2), on the unclipped float reconstruction, peak 1. Transforms without an exact factor
(gamma) are not part of this benchmark. A run stops at the target, at `--cap` steps, or as soon
as it needs more steps than the best learning rate so far for that transform.

Speedup of a transform on an image = identity steps / transform steps (> 1: faster). Means are
arithmetic (as the paper reports) and geometric, over images where both reached the target.

    python benchmarks/transform_speedup.py --field grid      # all 24 images, ~1 h on 2 cores
    python benchmarks/transform_speedup.py --field siren
    python benchmarks/transform_speedup.py --field grid --images kodim01 --cap 100   # a quick look
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec.fields.grid import grid_field  # noqa: E402
from nfcodec.fields.grid_layout import GridConfig  # noqa: E402
from nfcodec.fields.siren import siren_field  # noqa: E402
from nfcodec.metrics import psnr_from_mse  # noqa: E402
from nfcodec.modalities.image import pixel_coords, read_image  # noqa: E402
from nfcodec.train import Adam, autocast_dtype  # noqa: E402
from nfcodec.transforms import fit_transform  # noqa: E402

ALL_IMAGES = [f"kodim{i:02d}" for i in range(1, 25)]
TRANSFORMS = ("identity", "invert", "rpp", "ordered", "halve")
PAPER = {"rpp": "1.36x", "invert": "~0.12x", "ordered": "~0.77x", "halve": "1.125x (transformed signal)"}
FIELDS = {
    "grid": {"crop": 512, "lrs": (1e-2, 2e-2, 4e-2)},
    "siren": {"crop": 64, "lrs": (1e-3, 3e-3, 1e-2), "width": 64},
}
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def grey_crop(path: Path, side: int) -> np.ndarray:
    pixels = read_image(path).pixels.astype(np.float32) / 255.0
    grey = pixels @ LUMA if pixels.shape[-1] == 3 else pixels[..., 0]
    h, w = grey.shape
    top, left = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(grey[top : top + side, left : left + side, None])


def make_field(kind: str, side: int) -> tuple[Any, dict[str, Any]]:
    if kind == "grid":
        grid = GridConfig(2, 16, 2, 19, 16, GridConfig.scale_for(16, 16, side))
        field = grid_field((16,), (64,), grid, out_dim=1, hidden_layers=2)
        return field, {"betas": field.adam_betas, "eps": field.adam_eps}
    field = siren_field((FIELDS["siren"]["width"],), in_dim=2, out_dim=1, hidden_layers=3)
    return field, {}


def steps_to_target(kind: str, values: np.ndarray, preset: str, lr: float, target: float, cap: int, seed: int) -> int | None:
    """Updates until the original-domain PSNR reaches `target`, or None within `cap`."""
    transform = fit_transform(preset, values, seed)
    factor = transform.mse_factor()
    if factor is None:
        raise ValueError(f"{preset} has no exact MSE factor")
    side = values.shape[0]
    coords = torch.from_numpy(pixel_coords(side, side))
    target_t = torch.from_numpy(np.ascontiguousarray(transform.forward(values), dtype=np.float32).reshape(-1, 1))
    field, adam = make_field(kind, side)
    field.grow(1, torch.Generator().manual_seed(seed))
    field.set_output_bias(target_t.mean(dim=0))
    optimiser = Adam(field.trainable_parameters(1), lr=lr, **adam)
    amp = autocast_dtype(field, coords.device, "auto")
    for step in range(cap + 1):
        optimiser.zero_grad(set_to_none=False)
        with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
            out = field.forward(coords, 1)
        loss = torch.mean((out.float() - target_t) ** 2)
        if psnr_from_mse(factor * loss.item()) >= target:
            return step  # `step` updates applied so far
        if step == cap:
            return None
        loss.backward()
        field.mask_gradients(1)
        optimiser.step()
    return None


def run_image(kind: str, path: Path, target: float, cap: int, seed: int) -> dict[str, Any]:
    spec = FIELDS[kind]
    values = grey_crop(path, spec["crop"])
    out: dict[str, Any] = {"image": path.stem, "transforms": {}}
    for preset in TRANSFORMS:
        best, per_lr = None, {}
        start = time.perf_counter()
        for lr in spec["lrs"]:
            limit = cap if best is None else min(cap, best)
            steps = steps_to_target(kind, values, preset, lr, target, limit, seed)
            per_lr[f"{lr:g}"] = steps if steps is not None else f">{limit}"
            if steps is not None and (best is None or steps < best):
                best = steps
        out["transforms"][preset] = {"steps": best, "per_lr": per_lr, "seconds": round(time.perf_counter() - start, 2)}
        print(f"{kind} {path.stem} {preset}: {best if best is not None else f'>{cap}'} steps {per_lr}", file=sys.stderr, flush=True)
    return out


def summarise(per_image: list[dict[str, Any]]) -> dict[str, Any]:
    summary = {}
    for preset in TRANSFORMS:
        ratios, faster, capped = [], 0, 0
        for r in per_image:
            base, steps = r["transforms"]["identity"]["steps"], r["transforms"][preset]["steps"]
            if base is None or steps is None:
                capped += 1
                continue
            ratio = base / steps if steps else math.inf
            ratios.append(ratio)
            faster += ratio > 1
        finite = [x for x in ratios if math.isfinite(x) and x > 0]
        summary[preset] = {
            "mean_speedup": float(np.mean(finite)) if finite else None,
            "geomean_speedup": float(np.exp(np.mean(np.log(finite)))) if finite else None,
            "faster_on": faster,
            "compared": len(ratios),
            "not_reached": capped,
        }
    return summary


def report(results: dict[str, dict[str, Any]]) -> str:
    parts = ["# transform_speedup: steps to a PSNR target per data transform (paper protocol, CPU)\n",
             "Protocol and caveats: the docstring of `benchmarks/transform_speedup.py`. Speedup = identity steps / "
             "transform steps, per image; the learning rate is tuned per transform and image from the field's grid.\n"]
    for kind, res in results.items():
        s = res["settings"]
        parts.append(f"## {kind}: {s['crop']}x{s['crop']} grey crops, target {s['target']:g} dB, cap {s['cap']} steps\n\n"
                     f"```\n{res['command']}\n```\n\nResult: `transform_speedup_{kind}.json` ({res['date']}, commit {res['git_commit']}).\n")
        headers = ["image"] + [f"{t} steps" for t in TRANSFORMS]
        rows = []
        for r in res["per_image"]:
            cells = []
            for t in TRANSFORMS:
                steps = r["transforms"][t]["steps"]
                base = r["transforms"]["identity"]["steps"]
                if steps is None:
                    cells.append(f">{s['cap']}")
                elif t == "identity" or base is None:
                    cells.append(str(steps))
                else:
                    cells.append(f"{steps} ({base / steps:.2f}x)" if steps else "0")
            rows.append([r["image"]] + cells)
        parts.append(markdown_table(headers, rows) + "\n")
        srows = []
        for t in TRANSFORMS[1:]:
            m = res["summary"][t]
            fmt = (lambda x: f"{x:.2f}x" if x is not None else "-")
            srows.append([t, fmt(m["mean_speedup"]), fmt(m["geomean_speedup"]), f"{m['faster_on']}/{m['compared']}", m["not_reached"], PAPER.get(t, "-")])
        parts.append("### Mean speedup over the identity\n\n" + markdown_table(
            ["transform", "mean", "geomean", "faster on", "not reached (either)", "paper (Instant-NGP, 50 dB)"], srows) + "\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--field", choices=sorted(FIELDS), default="grid")
    ap.add_argument("--images", nargs="+", default=ALL_IMAGES)
    ap.add_argument("--target", type=float, default=50.0, help="PSNR target in dB on the original signal")
    ap.add_argument("--cap", type=int, default=400, help="most steps per run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", type=Path, default=KODAK)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    out_path = args.out or RESULTS / f"transform_speedup_{args.field}.json"
    per_image = [run_image(args.field, args.data_dir / f"{name}.png", args.target, args.cap, args.seed) for name in args.images]
    result = {
        "benchmark": "transform_speedup",
        **run_metadata(argv),
        "settings": {"field": args.field, "crop": FIELDS[args.field]["crop"], "lrs": list(FIELDS[args.field]["lrs"]),
                     "target": args.target, "cap": args.cap, "seed": args.seed, "transforms": list(TRANSFORMS)},
        "per_image": per_image,
        "summary": summarise(per_image),
    }
    write_json(out_path, result)
    if args.out is None:  # the committed report covers every field whose default result exists
        results = {}
        for kind in FIELDS:
            path = RESULTS / f"transform_speedup_{kind}.json"
            if path.exists():
                results[kind] = json.loads(path.read_text())
        (RESULTS / "transform_speedup.md").write_text(report(results))
    print(report({args.field: result}))
    return result


if __name__ == "__main__":
    main()
