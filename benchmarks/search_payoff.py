"""Does the transform search pay for itself? The default encode with `--transform auto` (the
search included) vs `--transform none`, per Kodak image, in one run; and how often the
predictor's first choice is the transform the probes measure as best.

Part 1 (timed): per image, `encode_image(read_image(path), EncodeConfig(transform=...))` for
"none" and "auto", back to back, none first on even-numbered rows and auto first on odd ones,
so load changes and warm-up hit both alike.
Wall time covers the whole encode (auto: search + training + quantisation + scoring). The
issue's target: auto faster on average, including the search, and never more than 15% slower
on any image, at the same quality (the PSNR of both files is reported next to the times).

Part 2 (not timed): per image, the search with every distinct candidate probed
(`min_predicted_gain = -inf`, every transform that is not predicted equal to another), each at
its best learning rate; the measured winner is the surviving arm with the highest probe PSNR.
Reported: how often the predictor's first choice (among those probed) is that winner.

    python benchmarks/search_payoff.py                       # all 24 images: ~30 min on 2 cores
    python benchmarks/search_payoff.py --images kodim01 --steps 10   # a quick look
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec.codec import EncodeConfig, encode_image  # noqa: E402
from nfcodec.search import SearchConfig, search_for_encode  # noqa: E402
from nfcodec.signals.image import read_image  # noqa: E402

ALL_IMAGES = [f"kodim{i:02d}" for i in range(1, 25)]
SLOWER_LIMIT = 1.15


def timed_encode(path: Path, transform: str, steps: int | None) -> dict[str, Any]:
    signal = read_image(path)
    start = time.perf_counter()
    result = encode_image(signal, EncodeConfig(transform=transform, steps=steps))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "psnr": result.stages[-1].psnr,
        "bpp": result.bpp,
        "transform": result.transform_preset,
        "lr": result.search.lr if result.search else None,
        "search_seconds": result.search.seconds if result.search else 0.0,
        "search_reason": result.search.reason if result.search else None,
    }


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


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", nargs="+", default=ALL_IMAGES)
    ap.add_argument("--steps", type=int, default=None, help="steps per stage (default: the encoder's)")
    ap.add_argument("--probe-side", type=int, default=SearchConfig.probe_side)
    ap.add_argument("--data-dir", type=Path, default=KODAK)
    ap.add_argument("--out", type=Path, default=RESULTS / "search_payoff.json")
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    paths = [args.data_dir / f"{name}.png" for name in args.images]
    timed_encode(paths[0], "none", 2)  # JIT and allocator warm-up, so the first timing is fair
    per_image = []
    for i, path in enumerate(paths):
        # alternate which goes first, so that neither always runs on a warmer (or hotter) machine
        if i % 2 == 0:
            none = timed_encode(path, "none", args.steps)
            auto = timed_encode(path, "auto", args.steps)
        else:
            auto = timed_encode(path, "auto", args.steps)
            none = timed_encode(path, "none", args.steps)
        row = {"image": path.stem, "none": none, "auto": auto, "ratio": auto["seconds"] / none["seconds"],
               "psnr_delta": auto["psnr"] - none["psnr"]}
        per_image.append(row)
        print(f"{path.stem}: none {none['seconds']:.1f} s {none['psnr']:.2f} dB | auto {auto['seconds']:.1f} s "
              f"{auto['psnr']:.2f} dB ({auto['transform']}, search {auto['search_seconds']:.2f} s)", file=sys.stderr, flush=True)
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
        "auto_faster_on_average": bool(ratios.mean() < 1.0),
        "never_15pct_slower": bool(ratios.max() <= SLOWER_LIMIT),
        "predictor_hits": sum(c["hit"] for c in checks),
        "predictor_checked": len(checks),
    }
    result = {"benchmark": "search_payoff", **run_metadata(argv),
              "settings": {"steps": args.steps, "probe_side": args.probe_side, "images": args.images},
              "per_image": per_image, "predictor": checks, "summary": summary}
    write_json(args.out, result)
    print(markdown(result))
    return result


def markdown(result: dict[str, Any]) -> str:
    rows = [[r["image"], f"{r['none']['seconds']:.1f}", f"{r['none']['psnr']:.2f}", f"{r['auto']['seconds']:.1f}",
             f"{r['auto']['psnr']:.2f}", r["auto"]["transform"], f"{r['auto']['search_seconds']:.2f}", f"{r['ratio']:.3f}"]
            for r in result["per_image"]]
    s = result["summary"]
    table = markdown_table(["image", "none s", "none dB", "auto s", "auto dB", "auto chose", "search s", "auto / none"], rows)
    checks = markdown_table(
        ["image", "predictor order (probed)", "measured winner", "winner dB", "identity dB", "hit"],
        [[c["image"], " > ".join(c["predictor_order"]), c["measured_winner"], f"{c['winner_psnr']:.2f}",
          f"{c['identity_best_psnr']:.2f}", "yes" if c["hit"] else "no"] for c in result["predictor"]])
    return (f"{table}\n\nMean auto / none: {s['mean_ratio_auto_over_none']:.3f} (worst {s['worst_ratio']:.3f}); "
            f"mean search {s['mean_search_seconds']:.2f} s; non-identity choices {s['non_identity_choices']}; "
            f"mean PSNR change {s['mean_psnr_delta']:+.3f} dB.\n\n{checks}\n\nPredictor's first choice = measured winner: "
            f"{s['predictor_hits']}/{s['predictor_checked']}.\n")


if __name__ == "__main__":
    main()
