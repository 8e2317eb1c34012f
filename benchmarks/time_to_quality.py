"""Time to quality on Kodak: how fast the grid and the progressive SIREN reach a PSNR, and what
the default encode gives.

Parts (`--parts`, default all):
  kodak:  per image, training seconds to reach 30 and 35 dB for (a) the grid field of
          `nfc encode --arch grid` with ONE stage, full batch, Adam with the field's lr/betas/eps,
          and (b) the 4-stage progressive SIREN, stage after stage, 2^15-pixel mini-batches,
          lr 1e-3, `--siren-steps-per-stage` steps per stage. Constant lr (no cosine decay), so
          the time to a target does not depend on a step budget. Stops at 35 dB or the cap.
  crops:  128x128 centre crops: the 4-stage SIREN (30/69/110/151, 500 steps per stage,
          nfcodec.train.fit_progressive) sets a PSNR per stage; a 4-stage grid then trains
          each stage until it reaches the SIREN's PSNR at that stage. Ratio of cumulative
          seconds SIREN / grid per stage (issue target: grid >= 10x sooner). Two grids, both
          `nfc encode --arch grid` fields: the one the target is judged on has the stage split
          `--crop-grid-widths` (default 10,12,14,16 levels: `nfc encode --widths 10,12,14,16`,
          quality layers: every stage reaches fine levels), the other the default split
          (4,8,12,16: coarse-to-fine previews), reported beside it.
  encode: the default `encode_image(read_image(path), EncodeConfig())` per image: final PSNR,
          bpp, seconds (target: mean PSNR >= 32 dB at mean <= 4 bpp).

PSNR is of the full image (or crop) on 8-bit rounded output (nfcodec.metrics.psnr, peak 255),
evaluated every `--*-eval-every` steps with the clock paused, so times count training only; a
time is that of the first evaluation at or above the target (resolution: one eval interval).

    python benchmarks/time_to_quality.py --threads 2   # the full run: hours on 2 CPU cores (encode dominates)
    python benchmarks/time_to_quality.py --quick       # one image, short caps: ~1.5 min
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec.fields.base import Lattice  # noqa: E402
from nfcodec.codec import EncodeConfig, encode_image, resolve_device  # noqa: E402
from nfcodec.presets import build_field, default_stages  # noqa: E402
from nfcodec.metrics import psnr  # noqa: E402
from nfcodec.modalities.image import ImageGeometry, ImageSignal, read_image  # noqa: E402
from nfcodec.train import InMemorySampler, TrainConfig, fit_progressive, make_optimiser, optimise, predict_lattice  # noqa: E402

ALL_IMAGES = [f"kodim{i:02d}" for i in range(1, 25)]
CROP_IMAGES = ["kodim01", "kodim05", "kodim13", "kodim18"]
TARGETS_DB = (30.0, 35.0)
SIREN_WIDTHS = (30, 69, 110, 151)
CROP_RATIO_TARGET = 10.0
ENCODE_PSNR_TARGET, ENCODE_BPP_TARGET = 32.0, 4.0
# --quick overrides the defaults only (flags given explicitly still win).
QUICK = {
    "images": ["kodim01"], "crop_images": ["kodim01"], "grid_cap": 10.0, "siren_cap": 10.0,
    "siren_steps_per_stage": 25, "crop_size": 64, "crop_steps": 25, "crop_stage_cap": 5.0, "encode_steps": 20,
}


# ---- inputs and measurement ------------------------------------------------------------------

def resolve_image(name: str, data_dir: Path) -> Path:
    """A file path as is; otherwise 'kodim05', 'kodim05.png', '5' or '05' in `data_dir`."""
    p = Path(name)
    if p.is_file():
        return p
    stem = f"kodim{int(p.stem):02d}" if p.stem.isdigit() else p.stem
    return data_dir / f"{stem}.png"


def centre_crop(signal: ImageSignal, size: int) -> ImageSignal:
    h, w = signal.height, signal.width
    if not 0 < size <= min(h, w):
        raise ValueError(f"crop {size} does not fit a {h}x{w} image")
    top, left = (h - size) // 2, (w - size) // 2
    return ImageSignal(np.ascontiguousarray(signal.pixels[top : top + size, left : left + size]), signal.bit_depth)


class Target:
    """An image as training tensors on a device, plus the reference pixels for PSNR."""

    def __init__(self, signal: ImageSignal, device: torch.device):
        self.signal, self.device = signal, device
        self.geometry = ImageGeometry(signal.height, signal.width, signal.channels, signal.bit_depth)
        self.lattice = Lattice.sample_centres((signal.height, signal.width))  # declared, as the encoder does
        self.coords = torch.from_numpy(self.lattice.coords()).to(device)
        self.values = torch.from_numpy(signal.values()).to(device)

    def psnr(self, field: Any, stage: int) -> float:
        """Full-image PSNR of the field's output rounded to the image's integers (what decodes)."""
        out = predict_lattice(field, self.lattice, stage, self.device).cpu().numpy()
        pixels = self.geometry.to_pixels(out, self.signal.height, self.signal.width)
        return psnr(self.signal.pixels, pixels, peak=2**self.signal.bit_depth - 1)


class Clock:
    """Training seconds: perf_counter minus the paused (evaluation) intervals. CUDA is synchronised
    on every read, or queued kernels would land in whichever interval happens to wait for them."""

    def __init__(self, device: torch.device):
        self.device, self.paused_s, self._paused_at = device, 0.0, None
        self._start = self._now()

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def elapsed(self) -> float:
        return (self._paused_at if self._paused_at is not None else self._now()) - self._start - self.paused_s

    def pause(self) -> float:
        self._paused_at = self._now()
        return self.elapsed()

    def resume(self) -> None:
        self.paused_s += time.perf_counter() - self._paused_at
        self._paused_at = None


@dataclass
class Phase:
    stage: int
    max_steps: int | None = None  # None: until stop_psnr or a cap
    stop_psnr: float | None = None  # move on to the next phase once the image PSNR reaches it
    cap_s: float | None = None  # training seconds allowed to this phase


def train_timed(field: Any, target: Target, phases: list[Phase], *, lr: float, batch_size: int, eval_every: int,
                cap_s: float | None = None, finish_psnr: float | None = None, seed: int = 0) -> dict[str, Any]:
    """nfcodec.train's one loop as fit_stage runs it (fresh Adam per stage with the field's betas
    and eps, masked gradients, output bias at the mean) at a constant lr, with timed evaluations.
    Stops everything at `finish_psnr` or `cap_s` (training seconds)."""
    field.to(target.device)
    generator = torch.Generator().manual_seed(seed)
    values = target.values
    sampler = InMemorySampler(target.coords, values, batch_size, target.lattice)
    clock = Clock(target.device)
    trace: list[list[float]] = []  # [training seconds, step, stage, psnr]
    phase_out: list[dict[str, Any]] = []
    total_steps, last_psnr, stopped = 0, float("nan"), "steps"
    for phase in phases:
        field.grow(phase.stage, generator)
        if phase.stage == 1:
            field.set_output_bias(values.mean(dim=0))
        optimiser = make_optimiser(field, field.trainable_parameters(phase.stage), lr)
        phase_start, reached_at = clock.elapsed(), None

        def evaluate(steps: int, _batch_psnr: float) -> bool:
            """After every step: evaluate when due; True ends the phase."""
            nonlocal total_steps, last_psnr, stopped, reached_at
            total_steps += 1
            now = clock.elapsed()
            out_of_steps = phase.max_steps is not None and steps >= phase.max_steps
            over_global = cap_s is not None and now >= cap_s
            over_phase = phase.cap_s is not None and now - phase_start >= phase.cap_s
            if not (steps % eval_every == 0 or out_of_steps or over_global or over_phase):
                return False
            t = clock.pause()
            last_psnr = target.psnr(field, phase.stage)
            trace.append([t, total_steps, phase.stage, last_psnr])
            clock.resume()
            if finish_psnr is not None and last_psnr >= finish_psnr:
                stopped = "target"
                return True
            if phase.stop_psnr is not None and last_psnr >= phase.stop_psnr:
                reached_at = t
                return True
            if over_global:
                stopped = "cap"
                return True
            return out_of_steps or over_phase

        steps, _ = optimise(field, optimiser, sampler, phase.stage, generator, steps=None, lr=lr, precision="fp32",
                            on_step=evaluate)
        phase_out.append({"stage": phase.stage, "steps": steps, "psnr": last_psnr, "reached_at_s": reached_at,
                          "seconds": clock.elapsed() - phase_start})
        if stopped != "steps":
            break
    seconds = clock.elapsed()

    def first(db: float) -> float | None:
        return next((t for t, _, _, p in trace if p >= db), None)

    return {"t30": first(TARGETS_DB[0]), "t35": first(TARGETS_DB[1]), "steps": total_steps, "final_psnr": last_psnr,
            "seconds": seconds, "eval_seconds": clock.paused_s, "stopped": stopped,
            "stage": phase_out[-1]["stage"], "phases": phase_out, "trace": trace}


def grid_field(shape: tuple[int, int], channels: int, stages: int, widths: tuple[int, ...] | None = None) -> Any:
    """`nfc encode --arch grid --stages S [--widths ...]`'s field (widths: grid levels per stage)."""
    return build_field(EncodeConfig(arch="grid", stages=stages, widths=widths), shape, channels)


def siren_field(shape: tuple[int, int], channels: int, widths: tuple[int, ...] | None = None) -> Any:
    """`nfc encode --arch siren`'s 4-stage field (matched widths, 30/69/110/151 by default)."""
    return build_field(EncodeConfig(arch="siren", stages=len(SIREN_WIDTHS), widths=widths), shape, channels)


def warm_up(signal: ImageSignal, device: torch.device) -> None:
    """JIT (numba grid kernels) and allocator warm-up on a tiny crop, so the first timing is fair."""
    target = Target(centre_crop(signal, 32), device)
    for field in (grid_field((32, 32), signal.channels, 4), siren_field((32, 32), signal.channels)):
        train_timed(field, target, [Phase(k, max_steps=2) for k in range(1, 5)], lr=1e-3, batch_size=1 << 15, eval_every=1)


# ---- parts -----------------------------------------------------------------------------------

def run_kodak(paths: list[Path], args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    per_image = []
    for path in paths:
        target = Target(read_image(path), device)
        shape, c = (target.signal.height, target.signal.width), target.signal.channels
        grid = grid_field(shape, c, 1)
        g = train_timed(grid, target, [Phase(1)], lr=grid.default_lr, batch_size=shape[0] * shape[1],
                        eval_every=args.grid_eval_every, cap_s=args.grid_cap, finish_psnr=TARGETS_DB[1], seed=args.seed)
        phases = [Phase(k, max_steps=args.siren_steps_per_stage) for k in range(1, len(SIREN_WIDTHS) + 1)]
        s = train_timed(siren_field(shape, c), target, phases, lr=1e-3, batch_size=1 << 15,
                        eval_every=args.siren_eval_every, cap_s=args.siren_cap, finish_psnr=TARGETS_DB[1], seed=args.seed)
        per_image.append({"image": path.stem, "shape": list(shape), "grid": g, "siren": s})
        log(f"kodak {path.stem}: grid t30 {fmt(g['t30'])} t35 {fmt(g['t35'])} ({g['final_psnr']:.2f} dB, {g['steps']} steps); "
            f"siren t30 {fmt(s['t30'])} t35 {fmt(s['t35'])} ({s['final_psnr']:.2f} dB, {s['steps']} steps)")
    summary = {}
    for name in ("grid", "siren"):
        entry: dict[str, Any] = {"images": len(per_image)}
        for key in ("t30", "t35"):
            times = [r[name][key] for r in per_image if r[name][key] is not None]
            entry[f"reached_{key[1:]}"] = len(times)
            entry[f"mean_{key}"] = float(np.mean(times)) if times else None  # over the images that reached it
        entry["mean_final_psnr"] = float(np.mean([r[name]["final_psnr"] for r in per_image]))
        summary[name] = entry
    return {"per_image": per_image, "summary": summary}


def run_crops(paths: list[Path], args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    per_crop = []
    for path in paths:
        target = Target(centre_crop(read_image(path), args.crop_size), device)
        shape, c = (args.crop_size, args.crop_size), target.signal.channels
        siren = siren_field(shape, c, SIREN_WIDTHS).to(device)
        siren_psnr: list[float] = []

        def on_stage_end(stage: int, fit: Any) -> None:  # outside fit.seconds: not timed
            siren_psnr.append(target.psnr(siren, stage))

        # fit_progressive's default TrainConfig otherwise (cosine decay); full batch at this size.
        fits = fit_progressive(siren, InMemorySampler(target.coords, target.values, 1 << 15), TrainConfig(steps=args.crop_steps, lr=1e-3, seed=args.seed),
                               on_stage_end=on_stage_end, initial_bias=target.values.mean(dim=0))
        siren_cum = np.cumsum([f.seconds for f in fits]).tolist()
        grids = {}
        for split, widths in (("target", args.crop_grid_widths), ("default", None)):
            grid = grid_field(shape, c, len(SIREN_WIDTHS), widths)
            phases = [Phase(k + 1, stop_psnr=p, cap_s=args.crop_stage_cap) for k, p in enumerate(siren_psnr)]
            g = train_timed(grid, target, phases, lr=grid.default_lr, batch_size=shape[0] * shape[1],
                            eval_every=args.grid_eval_every, seed=args.seed)
            grid_cum = [ph["reached_at_s"] for ph in g["phases"]] + [None] * (len(SIREN_WIDTHS) - len(g["phases"]))
            grids[split] = {"levels": list(grid.widths), "mlp_widths": list(grid.config()["mlp_widths"]), "target_psnr": siren_psnr,
                            "psnr": [ph["psnr"] for ph in g["phases"]], "cum_seconds": grid_cum,
                            "steps": [ph["steps"] for ph in g["phases"]], "reached": [gc is not None for gc in grid_cum],
                            "eval_seconds": g["eval_seconds"],
                            "ratio": [sc / gc if gc else None for sc, gc in zip(siren_cum, grid_cum)]}
        ratio = grids["target"]["ratio"]
        per_crop.append({
            "image": path.stem, "crop": args.crop_size,
            "siren": {"widths": list(siren.widths), "psnr": siren_psnr, "cum_seconds": siren_cum, "steps": [f.steps for f in fits]},
            "grid": grids["target"], "grid_default_split": grids["default"],
            "ratio": ratio,
        })
        log(f"crops {path.stem}: siren dB {[round(p, 2) for p in siren_psnr]}, ratios {[fmt(r, 1) for r in ratio]} "
            f"(default split {[fmt(r, 1) for r in grids['default']['ratio']]})")
    stages = len(SIREN_WIDTHS)
    by_stage = [[r["ratio"][k] for r in per_crop if r["ratio"][k] is not None] for k in range(stages)]
    every = [x for xs in by_stage for x in xs]
    summary = {
        "mean_ratio": [float(np.mean(xs)) if xs else None for xs in by_stage],
        "geomean_ratio": [geomean(xs) for xs in by_stage],
        "reached": [len(xs) for xs in by_stage],
        "crops": len(per_crop),
        "geomean_all": geomean(every),
        "min_ratio": min(every) if every else None,
        "all_reached": all(len(xs) == len(per_crop) for xs in by_stage),
    }
    return {"per_crop": per_crop, "summary": summary}


def run_encode(paths: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    config = EncodeConfig()
    if args.encode_steps is not None:
        config = dataclasses.replace(config, steps=args.encode_steps)
    config = dataclasses.replace(config, device=args.device)
    per_image = []
    for path in paths:
        result = encode_image(read_image(path), config)
        stage_psnr = [s.psnr for s in result.stages]
        per_image.append({"image": path.stem, "psnr": stage_psnr[-1], "bpp": result.bpp, "seconds": result.seconds,
                          "bytes": len(result.data), "stage_psnr": stage_psnr, "stage_bpp": [s.prefix_bytes * 8 / result.pixels for s in result.stages]})
        log(f"encode {path.stem}: {stage_psnr[-1]:.2f} dB, {result.bpp:.3f} bpp, {result.seconds:.1f} s")
    summary = {key: float(np.mean([r[key] for r in per_image])) for key in ("psnr", "bpp", "seconds")}
    return {"config": {"arch": config.arch, "stages": default_stages(config), "steps": config.steps}, "per_image": per_image,
            "summary": {f"mean_{k}": v for k, v in summary.items()}}


# ---- reporting -------------------------------------------------------------------------------

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def geomean(xs: list[float]) -> float | None:
    return float(math.exp(np.mean(np.log(xs)))) if xs else None


def report(out: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Markdown tables per part, then the targets with PASS/FAIL."""
    parts, targets = [], []
    if "kodak" in out:
        k = out["kodak"]
        rows = [[r["image"], fmt(r["grid"]["t30"]), fmt(r["grid"]["t35"]), fmt(r["grid"]["final_psnr"]),
                 fmt(r["siren"]["t30"]), fmt(r["siren"]["t35"]), fmt(r["siren"]["final_psnr"])] for r in k["per_image"]]
        g, s = k["summary"]["grid"], k["summary"]["siren"]
        n = g["images"]
        rows.append(["**mean (reached/N)**", f"{fmt(g['mean_t30'])} ({g['reached_30']}/{n})", f"{fmt(g['mean_t35'])} ({g['reached_35']}/{n})",
                     fmt(g["mean_final_psnr"]), f"{fmt(s['mean_t30'])} ({s['reached_30']}/{n})",
                     f"{fmt(s['mean_t35'])} ({s['reached_35']}/{n})", fmt(s["mean_final_psnr"])])
        parts.append("### Kodak: training seconds to 30 / 35 dB\n\n" + markdown_table(
            ["image", "grid t30 s", "grid t35 s", "grid final dB", "SIREN t30 s", "SIREN t35 s", "SIREN final dB"], rows))
    if "crops" in out:
        c = out["crops"]
        rows = []
        for r in c["per_crop"]:
            for i in range(len(SIREN_WIDTHS)):
                d = r["grid_default_split"]
                rows.append([r["image"], i + 1, fmt(r["siren"]["psnr"][i]), fmt(r["siren"]["cum_seconds"][i]),
                             fmt(r["grid"]["cum_seconds"][i]), fmt(r["ratio"][i], 1), fmt(d["cum_seconds"][i]), fmt(d["ratio"][i], 1)])
        sm = c["summary"]
        for i in range(len(SIREN_WIDTHS)):
            rows.append([f"**mean / geomean ({sm['reached'][i]}/{sm['crops']} reached)**", i + 1, "", "", "",
                         f"{fmt(sm['mean_ratio'][i], 1)} / {fmt(sm['geomean_ratio'][i], 1)}", "", ""])
        split = "/".join(map(str, c["per_crop"][0]["grid"]["levels"])) if c["per_crop"] else "?"
        default_split = "/".join(map(str, c["per_crop"][0]["grid_default_split"]["levels"])) if c["per_crop"] else "?"
        parts.append(f"### Crops {out['settings']['crop_size']}px: cumulative seconds to the SIREN's PSNR per stage\n\n"
                     f"grid: levels {split} per stage (the target); default split: levels {default_split} per stage\n\n" + markdown_table(
            ["crop", "stage", "SIREN dB", "SIREN cum s", "grid cum s", "SIREN / grid", "default-split cum s", "SIREN / default"], rows))
        ok = sm["all_reached"] and sm["geomean_all"] is not None and sm["geomean_all"] >= CROP_RATIO_TARGET
        targets.append({"part": "crops", "target": f"grid reaches SIREN PSNR >= {CROP_RATIO_TARGET:g}x sooner (geomean over crops x stages, all reached)",
                        "value": f"geomean {fmt(sm['geomean_all'], 1)}x, min {fmt(sm['min_ratio'], 1)}x", "pass": ok})
    if "encode" in out:
        e = out["encode"]
        rows = [[r["image"], fmt(r["psnr"]), fmt(r["bpp"], 3), fmt(r["seconds"], 1), " / ".join(fmt(p) for p in r["stage_psnr"])]
                for r in e["per_image"]]
        sm = e["summary"]
        rows.append(["**mean**", fmt(sm["mean_psnr"]), fmt(sm["mean_bpp"], 3), fmt(sm["mean_seconds"], 1), ""])
        parts.append(f"### Default encode ({e['config']['arch']}, {e['config']['stages']} stages, {e['config']['steps']} steps/stage)\n\n"
                     + markdown_table(["image", "PSNR dB", "bpp", "seconds", "stage PSNRs"], rows))
        ok = sm["mean_psnr"] >= ENCODE_PSNR_TARGET and sm["mean_bpp"] <= ENCODE_BPP_TARGET
        targets.append({"part": "encode", "target": f"mean PSNR >= {ENCODE_PSNR_TARGET:g} dB at mean <= {ENCODE_BPP_TARGET:g} bpp",
                        "value": f"{sm['mean_psnr']:.2f} dB, {sm['mean_bpp']:.3f} bpp", "pass": ok})
    if targets:
        parts.append("### Targets\n\n" + markdown_table(["part", "target", "value", "result"],
                                                         [[t["part"], t["target"], t["value"], "PASS" if t["pass"] else "FAIL"] for t in targets]))
    return "\n\n".join(parts), targets


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", choices=["kodak", "crops", "encode"], default=["kodak", "crops", "encode"])
    ap.add_argument("--images", nargs="+", default=ALL_IMAGES, help="names in --data-dir (kodim05, 05) or image paths")
    ap.add_argument("--crop-images", nargs="+", default=CROP_IMAGES)
    ap.add_argument("--data-dir", type=Path, default=KODAK)
    ap.add_argument("--grid-cap", type=float, default=90.0, help="training seconds per image, grid")
    ap.add_argument("--siren-cap", type=float, default=45.0, help="training seconds per image, SIREN")
    ap.add_argument("--siren-steps-per-stage", type=int, default=200)
    ap.add_argument("--grid-eval-every", type=int, default=5)
    ap.add_argument("--siren-eval-every", type=int, default=25)
    ap.add_argument("--crop-size", type=int, default=128)
    ap.add_argument("--crop-steps", type=int, default=500, help="SIREN steps per stage on crops")
    ap.add_argument("--crop-stage-cap", type=float, default=20.0, help="training seconds per grid stage on crops")
    ap.add_argument("--crop-grid-widths", type=lambda v: tuple(int(x) for x in v.split(",")), default=(10, 12, 14, 16),
                    help="grid levels per stage of the crop grid the target is judged on (default 10,12,14,16)")
    ap.add_argument("--encode-steps", type=int, default=None, help="steps per stage (default: EncodeConfig's)")
    ap.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, ...")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-warm-up", action="store_true", help="skip the JIT warm-up before timing")
    ap.add_argument("--quick", action="store_true", help="one image, short caps and step counts (a smoke run)")
    ap.add_argument("--out", type=Path, default=RESULTS / "time_to_quality.json")
    argv = list(argv if argv is not None else sys.argv[1:])
    if ap.parse_known_args(argv)[0].quick:
        ap.set_defaults(**QUICK)
    args = ap.parse_args(argv)
    setup_runtime()

    def paths_of(names: list[str]) -> list[Path]:
        paths = [resolve_image(n, args.data_dir) for n in names]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            ap.error(f"no such image(s): {', '.join(missing)}")
        return paths

    images = paths_of(args.images) if {"kodak", "encode"} & set(args.parts) else []
    crops = paths_of(args.crop_images) if "crops" in args.parts else []
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = resolve_device(args.device)
        out: dict[str, Any] = {"benchmark": "time_to_quality", **run_metadata(argv), "device": str(device)}
        # The script's own command line, also when main() is called from pytest or another script.
        out["command"] = " ".join(["python", "benchmarks/time_to_quality.py", *map(shlex.quote, argv)])
        out["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"}
        out["settings"] |= {"targets_db": list(TARGETS_DB), "siren_widths": list(SIREN_WIDTHS), "siren_batch": 1 << 15,
                            "siren_lr": 1e-3, "lr_schedule": "constant (kodak, crop grid); cosine (crop SIREN, encode)"}
        if not args.no_warm_up:
            log("warm-up ...")
            warm_up(read_image((images or crops)[0]), device)
        if "kodak" in args.parts:
            out["kodak"] = run_kodak(images, args, device)
        if "crops" in args.parts:
            out["crops"] = run_crops(crops, args, device)
        if "encode" in args.parts:
            out["encode"] = run_encode(images, args)
    finally:
        torch.set_num_threads(threads_before)
    table, out["targets"] = report(out)
    out["table_markdown"] = table
    print(table)
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
