"""Temporal growing (the "Table 4" protocol of Cho et al., "Streamable Neural Fields", ECCV 2022)
at a CPU budget: progressive vs individually trained vs slimmable, per stage.

Stage k of K covers the first ceil(k T / K) frames of the clip (with K = 3 and T = 24: 8, 16, 24,
the paper's 8(k+1)); every method's sub-network k is scored on exactly those frames (PSNR RGB
per frame, mean over the frames, 8-bit rounded, as `nfc` reports it). Two fields:
  siren  the paper's recipe: a progressive SIREN over (t, y, x) with 5 hidden layers, its
         stage widths scaled down from the paper's 296 / 479 / 619 for the CPU (`--siren-scale`);
  grid   `nfc encode`'s default field (`--grow temporal`), what users get.
Methods, all through nfcodec.train's one loop with the same Adam, schedule, seed and batches
(frame windows from the video modality's sampler):
  progressive  one field, stage k trained `--steps` steps on stage k's frames, earlier stages
               frozen (what `nfc encode --grow temporal` does);
  individual   K separate single-stage fields, field k of sub-network k's parameter count (a
               SIREN of matched width; a grid of sub-network k's levels and MLP), trained
               `--steps` steps on stage k's frames;
  slimmable    one full-size field, no freezing, K x `--steps` steps whose loss sums every width k
               on the batch points that lie in stage k's frames.

    python benchmarks/temporal_growing.py ../shared/data/video/cockatoo_yuv420.mp4 --resize 96x54 --steps 300

The paper: UVG, 270x480, 50,000+ GPU steps per stage: 37.27 / 37.99 / 38.22 dB (progressive).
Absolute dB are not comparable (other clips, sizes and budgets); orderings and gaps are.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec.codec import EncodeConfig  # noqa: E402
from nfcodec.fields.grid import grid_config_from_header, grid_field  # noqa: E402
from nfcodec.fields.siren import dense_params, progressive_params, siren_field  # noqa: E402
from nfcodec.modalities.video import VIDEO  # noqa: E402
from nfcodec.presets import build_field  # noqa: E402
from nfcodec.train import Batch, TrainConfig, cosine_factor, fit_progressive, make_optimiser, optimise  # noqa: E402
from nfcodec.transforms import fit_transform  # noqa: E402

PAPER_PROGRESSIVE = [37.27, 37.99, 38.22]
PAPER_WIDTHS = (296, 479, 619)
SIREN_LAYERS = 5
STAGES = 3


def siren_widths(scale: float) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Progressive widths (the paper's, scaled) and the individual widths of matching parameter
    counts (a plain SIREN per stage, as the paper's individually trained baseline)."""
    progressive = tuple(max(2, round(w * scale)) for w in PAPER_WIDTHS)
    counts = progressive_params(progressive, 3, 3, SIREN_LAYERS)
    individual = tuple(min(range(1, 2 * progressive[-1]), key=lambda w, c=c: abs(dense_params(w, 3, 3, SIREN_LAYERS) - c))
                       for c in counts)
    return progressive, individual


def build_fields(arch: str, signal: Any, scale: float) -> dict[str, Any]:
    """Factories for the progressive field, the individual field of each stage, the slimmable one."""
    geometry = VIDEO.geometry(signal)
    domain = VIDEO.domain(geometry)
    if arch == "siren":
        progressive, individual = siren_widths(scale)
        return {
            "progressive": lambda: siren_field(progressive, 3, 3, SIREN_LAYERS),
            "individual": lambda k: siren_field((individual[k - 1],), 3, 3, SIREN_LAYERS),
            "slimmable": lambda: siren_field(individual, 3, 3, SIREN_LAYERS),
            "widths": {"progressive": list(progressive), "individual": list(individual)},
        }
    config = EncodeConfig(arch="grid", stages=STAGES)
    full = build_field(config, domain.shape, 3, domain.resolution)
    levels, mlp = full.widths, full.config()["mlp_widths"]

    def individual(k: int) -> Any:  # sub-network k's architecture: the grid's first L_k levels, W_k units
        c = full.config()
        grid = dataclasses.replace(grid_config_from_header(c), n_levels=levels[k - 1])
        return grid_field((levels[k - 1],), (mlp[k - 1],), grid, c["out_dim"], c["hidden_layers"])

    return {
        "progressive": lambda: build_field(config, domain.shape, 3, domain.resolution),
        "individual": individual,
        "slimmable": lambda: build_field(config, domain.shape, 3, domain.resolution),
        "widths": {"levels": list(levels), "mlp": list(mlp)},
    }


def stage_quality(field: Any, stage: int, signal: Any, transform: Any, extent: Any) -> float:
    geometry = VIDEO.geometry(signal)
    blocks = VIDEO.render(field, transform, geometry, stage, torch.device("cpu"), extent)
    return VIDEO.quality(signal, blocks, extent)["psnr"]


def run_progressive(make: dict[str, Any], signal: Any, transform: Any, extents: list[Any], config: TrainConfig, batch: int) -> list[float]:
    field = make["progressive"]()
    samplers = [VIDEO.sampler(signal, transform, batch, torch.device("cpu"), e) for e in extents]
    fit_progressive(field, samplers[0], config, initial_bias=samplers[0].mean, stage_sampler=lambda k: samplers[k - 1])
    return [stage_quality(field, k, signal, transform, extents[k - 1]) for k in range(1, STAGES + 1)]


def run_individual(make: dict[str, Any], signal: Any, transform: Any, extents: list[Any], config: TrainConfig, batch: int) -> list[float]:
    scores = []
    for k in range(1, STAGES + 1):
        field = make["individual"](k)
        sampler = VIDEO.sampler(signal, transform, batch, torch.device("cpu"), extents[k - 1])
        fit_progressive(field, sampler, config, initial_bias=sampler.mean)
        scores.append(stage_quality(field, 1, signal, transform, extents[k - 1]))
    return scores


def run_slimmable(make: dict[str, Any], signal: Any, transform: Any, extents: list[Any], config: TrainConfig, batch: int) -> list[float]:
    """Every entry trainable; each step's loss sums, over the widths k, the squared error of width
    k on the batch points inside stage k's frames."""
    field = make["slimmable"]()
    generator = torch.Generator().manual_seed(config.seed)
    for k in range(1, STAGES + 1):
        field.grow(k, generator)
    sampler = VIDEO.sampler(signal, transform, batch, torch.device("cpu"), extents[-1])
    field.set_output_bias(sampler.mean)
    frames = signal.frames.shape[0]
    limits = [extent[0][1] / frames for extent in extents]  # stage k: t < limit_k (coordinates are (i + 0.5) / T)

    def every_width(model: Any, b: Batch, _stage: int) -> torch.Tensor:
        total = torch.zeros(())
        for k, limit in enumerate(limits, start=1):
            inside = b.coords[:, 0] < limit
            if bool(inside.any()):
                error = (model.forward(b.coords, k, b.lattice).float() - b.values) ** 2
                total = total + error[inside].mean()
        return total

    steps = STAGES * config.steps
    lr = config.lr or field.default_lr
    optimiser = make_optimiser(field, list(field.parameters()), lr)
    optimise(field, optimiser, sampler, STAGES, generator, steps=steps, lr=lr, loss=every_width, freeze=False,
             lr_factor=lambda step: cosine_factor(step, steps, config.final_lr_fraction), precision=config.precision)
    return [stage_quality(field, k, signal, transform, extents[k - 1]) for k in range(1, STAGES + 1)]


METHODS: dict[str, Callable[..., list[float]]] = {"progressive": run_progressive, "individual": run_individual, "slimmable": run_slimmable}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", type=Path, nargs="?", default=REPO / "samples" / "carphone_24f.mp4")
    ap.add_argument("--frames", type=int, default=24, help="the clip's first N frames")
    ap.add_argument("--resize", default="96x54", help="frames scaled to WxH (the paper: 480x270)")
    ap.add_argument("--steps", type=int, default=300, help="steps per stage (slimmable: stages x steps in all)")
    ap.add_argument("--batch-size", type=int, default=1 << 15)
    ap.add_argument("--siren-scale", type=float, default=0.25, help="SIREN widths: the paper's 296/479/619 times this")
    ap.add_argument("--siren-lr", type=float, default=1e-4, help="the paper's rate")
    ap.add_argument("--archs", default="grid,siren")
    ap.add_argument("--out", type=Path, default=RESULTS / "temporal_growing.json")
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    signal = VIDEO.read(args.clip, {"frames": f"0:{args.frames}", "resize": args.resize})
    identity = fit_transform("identity", VIDEO.search_lattice(signal), 0)
    extents = VIDEO.stage_extents(VIDEO.geometry(signal), STAGES, "temporal")
    results: dict[str, Any] = {}
    rows = []
    for arch in args.archs.split(","):
        make = build_fields(arch, signal, args.siren_scale)
        config = TrainConfig(steps=args.steps, lr=args.siren_lr if arch == "siren" else None, batch_size=args.batch_size)
        results[arch] = {"widths": make["widths"]}
        for method, run in METHODS.items():
            start = time.perf_counter()
            scores = run(make, signal, identity, extents, config, args.batch_size)
            results[arch][method] = {"psnr": scores, "seconds": time.perf_counter() - start}
            rows.append([arch, method, *[f"{s:.2f}" for s in scores], f"{time.perf_counter() - start:.0f}"])
            print(rows[-1], file=sys.stderr, flush=True)
    rows.append(["paper (UVG 480x270, GPU)", "progressive", *[f"{p:.2f}" for p in PAPER_PROGRESSIVE], ""])
    frames = [e[0][1] for e in extents]
    table = markdown_table(["field", "method", *[f"stage {k} ({n} frames)" for k, n in enumerate(frames, 1)], "seconds"], rows)
    print(table)
    out = {"benchmark": "temporal_growing", **run_metadata(argv), "clip": str(args.clip), "frames": args.frames,
           "resize": args.resize, "steps": args.steps, "stage_frames": frames, "paper_progressive": PAPER_PROGRESSIVE,
           "results": results, "table_markdown": table}
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
