"""Does the transform search pay for itself? The default encode with `--transform auto` (the
search included) vs `--transform none`, per Kodak image, in one run, to the same quality; how
often the predictor's first choice is the transform the probes measure as best; and whether the
learning rate the search picks is the best one for the whole encode.

Part 1 (timed, equal quality): per image, a reference encode with `--transform none` at the
default budget sets the quality q: the training PSNR of its last step (before quantisation,
what `--target-psnr` compares with). Then both `--transform none` and `--transform auto` encode
with `--target-psnr q` (a stage stops once its training PSNR reaches q; the default budget
still caps every stage), back to back, none first on even-numbered rows and auto first on odd
ones, so load changes and warm-up hit both alike. none@q repeats the reference's computation
(it reaches q at its last step); auto gets there sooner when its search found a faster
transform or learning rate, or not at all (then it runs the whole budget). Wall time covers
the whole encode (auto: search + training + quantisation + scoring). With `--repeats k` each of
none@q and auto@q runs k times (the order alternating each round) and the median counts; the
spread between the reference and none@q (the same computation) shows the clock's noise. The issue's target: auto
faster on average, including the search, and never more than 15% slower on any image; the
decoded PSNR of both files (after quantisation) is reported next to the times.

Part 2 (not timed): per image, the search with every distinct candidate probed
(`min_predicted_gain = -inf`, every transform that is not predicted equal to another), each at
its best learning rate; the measured winner is the surviving arm with the highest probe PSNR.
Reported: how often the predictor's first choice (among those probed) is that winner.

Part 3 (not timed, `--lr-sweep`, on by default): the default-budget encode with `--transform
none` at 0.5x, 1x (the reference of Part 1) and 2x the default learning rate: which rate is
best for the whole encode, and what the rate auto picked (Part 1) gives.

    python benchmarks/search_payoff.py                       # all 24 images: ~50 min on 2 cores
    python benchmarks/search_payoff.py --images kodim01 --steps 10   # a quick look
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec.codec import EncodeConfig, encode_image  # noqa: E402
from nfcodec.presets import ARCH_DEFAULTS  # noqa: E402
from nfcodec.search import SearchConfig, search_for_encode  # noqa: E402
from nfcodec.modalities.image import read_image  # noqa: E402

ALL_IMAGES = [f"kodim{i:02d}" for i in range(1, 25)]
SLOWER_LIMIT = 1.15
LR_SWEEP = (0.5, 1.0, 2.0)  # Part 3: times the default learning rate


def reached(run: dict[str, Any], quality: float, budget: int) -> bool:
    """Did the encode reach the training PSNR it aimed at: its last stage stopped before the
    budget, or ended at or above it (the latter read in the identity's domain)?"""
    return run["steps"][-1] < budget or run["train_psnr"] >= quality

DEFAULT_LR = ARCH_DEFAULTS["grid"]["lr"]


def timed_encode(path: Path, transform: str, steps: int | None, target_psnr: float | None = None,
                 lr: float | None = None) -> dict[str, Any]:
    signal = read_image(path)
    start = time.perf_counter()
    result = encode_image(signal, EncodeConfig(transform=transform, steps=steps, target_psnr=target_psnr, lr=lr))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "steps": [s.steps for s in result.stages],
        "train_psnr": result.stages[-1].train_psnr,
        "psnr": result.stages[-1].psnr,
        "bpp": result.bpp,
        "transform": result.transform_preset,
        "lr": result.search.lr if result.search else (lr or DEFAULT_LR),
        "search_seconds": result.search.seconds if result.search else 0.0,
        "search_reason": result.search.reason if result.search else None,
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (the lower middle one for an even count), with every run's
    seconds beside it (the computation is the same each time: only the clock differs)."""
    ranked = sorted(runs, key=lambda r: r["seconds"])
    return {**ranked[(len(ranked) - 1) // 2], "seconds_all": [r["seconds"] for r in runs]}


def predictor_check(path: Path, probe_side: int) -> dict[str, Any]:
    signal = read_image(path)
    values = signal.values().reshape(signal.height, signal.width, signal.channels)
    config = SearchConfig(min_predicted_gain=float("-inf"), max_transforms=99, probe_side=probe_side)
    result = search_for_encode(values, EncodeConfig(), config)
    probed = [r for r in result.rows if r.eliminated_round != 0]
    survivors = [r for r in probed if r.eliminated_round is None]
    winner = max(survivors, key=lambda r: r.psnr)
    order = [p.preset for p in result.predictions if any(r.transform == p.preset for r in probed)]
    return {
        "predictor_order": order,
        "predictor_first": order[0],
        "measured_winner": winner.transform,
        "winner_psnr": winner.psnr,
        "identity_best_psnr": max(r.psnr for r in probed if r.transform == "identity"),
        "hit": order[0] == winner.transform,
        "chosen_by_rule": result.transform,
        "search_seconds": result.seconds,
    }


def rate_rule(per_image: list[dict[str, Any]], data_dir: Path, threshold: float) -> dict[str, Any]:
    """How the grid's rate rule (2x the default rate where the mean luma gradient reaches
    `threshold`, nfcodec.search.predictor.rate_factor) does on images with a learning-rate
    sweep: per image the statistic and what 2x gains over 1x at the default budget; the rule's
    mean gain over all images; and a 2-fold check, the threshold fitted on the odd-numbered
    images (the best mean gain, the highest such threshold) and scored on the even ones, and
    back."""
    from nfcodec.search.predictor import rate_factor

    one, two = f"{DEFAULT_LR:g}", f"{2 * DEFAULT_LR:g}"
    images = []
    for r in per_image:
        if "lr_sweep" not in r:
            continue
        signal = read_image(data_dir / f"{r['image']}.png")
        factor, gradient = rate_factor(signal.values().reshape(signal.height, signal.width, signal.channels), threshold, 2.0)
        psnr = r["lr_sweep"]["psnr_by_lr"]
        images.append({"image": r["image"], "gradient": gradient, "gain_2x_db": psnr[two] - psnr[one], "raised": factor > 1.0})

    def mean_gain(subset: list[dict[str, Any]], t: float) -> float:
        return sum(i["gain_2x_db"] for i in subset if i["gradient"] >= t) / max(1, len(subset))

    def fit(subset: list[dict[str, Any]]) -> float:
        values = sorted(i["gradient"] for i in subset)
        candidates = [0.0] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [math.inf]
        best = max(mean_gain(subset, t) for t in candidates)
        return max(t for t in candidates if mean_gain(subset, t) >= best - 1e-12)

    odd = [i for i in images if int(i["image"][-2:]) % 2]
    even = [i for i in images if not int(i["image"][-2:]) % 2]
    folds = []
    for train, test, name in ((odd, even, "fit odd, score even"), (even, odd, "fit even, score odd")):
        if train and test:
            t = fit(train)
            folds.append({"fold": name, "threshold": t, "test_mean_gain_db": mean_gain(test, t),
                          "test_raised": sum(i["gradient"] >= t for i in test), "test_images": len(test)})
    return {
        "threshold": threshold, "images": images, "raised": sum(i["raised"] for i in images),
        "mean_gain_db": mean_gain(images, threshold),
        "oracle_mean_gain_db": sum(max(0.0, i["gain_2x_db"]) for i in images) / max(1, len(images)),
        "misses": [i["image"] for i in images if i["raised"] and i["gain_2x_db"] < 0],
        "two_fold": folds,
    }


def rate_rule_markdown(rule: dict[str, Any]) -> str:
    rows = [[i["image"], f"{i['gradient']:.4f}", f"{i['gain_2x_db']:+.2f}", "2x" if i["raised"] else "1x"]
            for i in sorted(rule["images"], key=lambda i: i["gradient"])]
    folds = "; ".join(f"{f['fold']}: threshold {f['threshold']:.4f}, {f['test_raised']}/{f['test_images']} raised, "
                      f"{f['test_mean_gain_db']:+.3f} dB mean on the held-out half" for f in rule["two_fold"])
    return (markdown_table(["image", "mean luma gradient", "dB at 2x - 1x", "rule"], rows)
            + f"\n\nThreshold {rule['threshold']:g}: 2x on {rule['raised']}/{len(rows)} images, "
            f"{rule['mean_gain_db']:+.3f} dB mean over all (per-image best of 1x/2x: {rule['oracle_mean_gain_db']:+.3f}); "
            f"raised where 2x lost: {', '.join(rule['misses']) or 'none'}. Two-fold check: {folds}.\n")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", nargs="+", default=ALL_IMAGES)
    ap.add_argument("--steps", type=int, default=None, help="steps per stage (default: the encoder's)")
    ap.add_argument("--probe-side", type=int, default=SearchConfig.probe_side)
    ap.add_argument("--data-dir", type=Path, default=KODAK)
    ap.add_argument("--lr-sweep", action=argparse.BooleanOptionalAction, default=True,
                    help="Part 3: encodes at 0.5x and 2x the default learning rate (2 more encodes per image)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="Part 1: none@q and auto@q each this many times (alternating), median seconds")
    ap.add_argument("--rate-rule", type=Path, metavar="JSON",
                    help="only score the grid's learning-rate rule on the lr sweep of an earlier run's JSON (no encodes)")
    ap.add_argument("--out", type=Path, default=RESULTS / "search_payoff.json")
    args = ap.parse_args(argv)
    threshold = ARCH_DEFAULTS["grid"]["search_lr"]["rate_gradient_threshold"]
    if args.rate_rule is not None:
        rule = rate_rule(json.loads(args.rate_rule.read_text())["per_image"], args.data_dir, threshold)
        print(rate_rule_markdown(rule))
        return rule
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    paths = [args.data_dir / f"{name}.png" for name in args.images]
    budget = args.steps or ARCH_DEFAULTS["grid"]["steps"]
    timed_encode(paths[0], "none", 2)  # JIT and allocator warm-up, so the first timing is fair
    per_image = []
    for i, path in enumerate(paths):
        reference = timed_encode(path, "none", args.steps)
        q = reference["train_psnr"]
        # alternate which goes first, so that neither always runs on a warmer (or hotter) machine
        runs: dict[str, list[dict[str, Any]]] = {"none": [], "auto": []}
        for rep in range(args.repeats):
            first, second = ("none", "auto") if (i + rep) % 2 == 0 else ("auto", "none")
            for name in (first, second):
                runs[name].append(timed_encode(path, name, args.steps, target_psnr=q))
        none, auto = (median_run(runs[name]) for name in ("none", "auto"))
        row = {"image": path.stem, "quality": q, "reference": reference, "none": none, "auto": auto,
               "repeat_spread": {"none_over_reference": none["seconds"] / reference["seconds"]},
               "reached": {"none": reached(none, q, budget), "auto": reached(auto, q, budget)},
               "ratio": auto["seconds"] / none["seconds"], "psnr_delta": auto["psnr"] - none["psnr"]}
        if args.lr_sweep:
            sweep = {DEFAULT_LR: reference["psnr"]}
            for factor in LR_SWEEP:
                if factor != 1.0:
                    sweep[DEFAULT_LR * factor] = timed_encode(path, "none", args.steps, lr=DEFAULT_LR * factor)["psnr"]
            best = max(sweep, key=sweep.get)
            # auto's rate, when it kept the identity and the rate is one of the sweep's
            picked = next((lr for lr in sweep if auto["transform"] == "identity" and math.isclose(lr, auto["lr"], rel_tol=1e-9)), None)
            row["lr_sweep"] = {"psnr_by_lr": {f"{k:g}": v for k, v in sorted(sweep.items())}, "best_lr": best,
                               "auto_lr": picked, "auto_lr_psnr": sweep[picked] if picked is not None else None}
        per_image.append(row)
        print(f"{path.stem}: q {q:.2f} dB train, {reference['psnr']:.2f} dB decoded ({reference['seconds']:.1f} s) | none@q {none['seconds']:.1f} s {none['psnr']:.2f} dB | "
              f"auto@q {auto['seconds']:.1f} s {auto['psnr']:.2f} dB ({auto['transform']}, lr {auto['lr']:g}, "
              f"search {auto['search_seconds']:.2f} s)" + (f" | lr sweep {row['lr_sweep']['psnr_by_lr']}" if args.lr_sweep else ""),
              file=sys.stderr, flush=True)
    checks = []
    for path in paths:
        c = predictor_check(path, args.probe_side)
        c["image"] = path.stem
        checks.append(c)
        print(f"{path.stem}: predictor {c['predictor_first']}, measured {c['measured_winner']}", file=sys.stderr, flush=True)
    ratios = np.array([r["ratio"] for r in per_image])
    summary = {
        "mean_ratio_auto_over_none": float(ratios.mean()),
        "mean_seconds_none": float(np.mean([r["none"]["seconds"] for r in per_image])),
        "mean_seconds_auto": float(np.mean([r["auto"]["seconds"] for r in per_image])),
        "worst_ratio": float(ratios.max()),
        "mean_search_seconds": float(np.mean([r["auto"]["search_seconds"] for r in per_image])),
        "non_identity_choices": sum(r["auto"]["transform"] != "identity" for r in per_image),
        "mean_psnr_delta": float(np.mean([r["psnr_delta"] for r in per_image])),
        # none@q repeats the reference's computation: how far apart the clock puts the two
        "none_over_reference_range": [float(min(r["repeat_spread"]["none_over_reference"] for r in per_image)),
                                      float(max(r["repeat_spread"]["none_over_reference"] for r in per_image))],
        "auto_faster_on_average": bool(ratios.mean() < 1.0),
        "never_15pct_slower": bool(ratios.max() <= SLOWER_LIMIT),
        "reached_quality_none": sum(r["reached"]["none"] for r in per_image),
        "reached_quality_auto": sum(r["reached"]["auto"] for r in per_image),
        "predictor_hits": sum(c["hit"] for c in checks),
        "predictor_checked": len(checks),
    }
    sweeps = [r["lr_sweep"] for r in per_image if "lr_sweep" in r]
    if sweeps:
        picked = [w for w in sweeps if w["auto_lr"] is not None]
        summary["lr_sweep"] = {
            "images": len(sweeps),
            "best_lr_counts": {f"{lr:g}": sum(w["best_lr"] == lr for w in sweeps) for lr in sorted({w["best_lr"] for w in sweeps})},
            "auto_picked_best": sum(w["auto_lr"] == w["best_lr"] for w in picked),
            "auto_identity_images": len(picked),
            "mean_db_auto_lr_vs_default": float(np.mean([w["auto_lr_psnr"] - w["psnr_by_lr"][f"{DEFAULT_LR:g}"] for w in picked])) if picked else None,
            "mean_db_best_vs_default": float(np.mean([max(w["psnr_by_lr"].values()) - w["psnr_by_lr"][f"{DEFAULT_LR:g}"] for w in sweeps])),
        }
        summary["rate_rule"] = rate_rule(per_image, args.data_dir, threshold)
    result = {"benchmark": "search_payoff", **run_metadata(argv),
              "settings": {"steps": args.steps, "probe_side": args.probe_side, "images": args.images, "lr_sweep": args.lr_sweep,
                           "repeats": args.repeats},
              "per_image": per_image, "predictor": checks, "summary": summary}
    write_json(args.out, result)
    print(markdown(result))
    return result


def markdown(result: dict[str, Any]) -> str:
    rows = [[r["image"], f"{r['quality']:.2f}", f"{r['none']['seconds']:.1f}", f"{r['none']['psnr']:.2f}", f"{r['auto']['seconds']:.1f}",
             f"{r['auto']['psnr']:.2f}", "yes" if r["reached"]["auto"] else "no", r["auto"]["transform"], f"{r['auto']['lr']:g}",
             f"{r['auto']['search_seconds']:.2f}", f"{r['ratio']:.3f}"]
            for r in result["per_image"]]
    s = result["summary"]
    spread = s.get("none_over_reference_range")  # absent in runs made before it was recorded
    table = markdown_table(["image", "q dB (train)", "none s", "none dB", "auto s", "auto dB", "auto reached q", "auto chose",
                            "auto lr", "search s", "auto / none"], rows)
    checks = markdown_table(
        ["image", "predictor order (probed)", "measured winner", "winner dB", "identity dB", "hit"],
        [[c["image"], " > ".join(c["predictor_order"]), c["measured_winner"], f"{c['winner_psnr']:.2f}",
          f"{c['identity_best_psnr']:.2f}", "yes" if c["hit"] else "no"] for c in result["predictor"]])
    out = (f"{table}\n\nMean auto / none: {s['mean_ratio_auto_over_none']:.3f} (worst {s['worst_ratio']:.3f}); "
           f"mean search {s['mean_search_seconds']:.2f} s; non-identity choices {s['non_identity_choices']}; "
           f"reached q: none {s['reached_quality_none']}, auto {s['reached_quality_auto']} of {len(rows)}; "
           f"mean PSNR change {s['mean_psnr_delta']:+.3f} dB"
           + (f"; none@q over the reference (the same computation): {spread[0]:.3f}-{spread[1]:.3f}" if spread else "")
           + f".\n\n{checks}\n\nPredictor's first choice = measured winner: "
           f"{s['predictor_hits']}/{s['predictor_checked']}.\n")
    sweeps = [r for r in result["per_image"] if "lr_sweep" in r]
    if sweeps:
        lrs = list(sweeps[0]["lr_sweep"]["psnr_by_lr"])
        sweep_rows = [[r["image"], *[f"{r['lr_sweep']['psnr_by_lr'][k]:.2f}" for k in lrs], f"{r['lr_sweep']['best_lr']:g}",
                       "-" if r["lr_sweep"]["auto_lr"] is None else f"{r['lr_sweep']['auto_lr']:g}"] for r in sweeps]
        w = s["lr_sweep"]
        out += ("\n" + markdown_table(["image", *[f"dB at lr {k}" for k in lrs], "best lr", "auto lr"], sweep_rows)
                + "\n\nBest rate per image: " + ", ".join(f"{lr}: {n}" for lr, n in w["best_lr_counts"].items())
                + f"; auto's rate is the best of the three on {w['auto_picked_best']}/{w['auto_identity_images']} images where "
                f"it kept the identity. Mean dB at the default budget vs the default rate: auto's rate "
                + ("-" if w["mean_db_auto_lr_vs_default"] is None else f"{w['mean_db_auto_lr_vs_default']:+.3f}")
                + f", the best of the three {w['mean_db_best_vs_default']:+.3f}.\n"
                + ("\n" + rate_rule_markdown(s["rate_rule"]) if "rate_rule" in s else ""))
    return out


if __name__ == "__main__":
    main()
