"""Which grid configuration should `nfc encode` default to? Quality per second of CPU training at
no more than 4 bits per pixel, for the default and its neighbours, in one run.

Every candidate is the default grid encode (`encode_image(..., EncodeConfig(transform="none"))`:
4 stages, full batch, lr 1e-2, cosine decay, q8 tables, zstd) with one or two settings changed:

  default      16 levels (16 .. the image's side), T = 2^14, MLP 1 x 32, 150 steps per stage
  steps100     100 steps per stage                 steps225   225 steps per stage
  T2^13        T = 2^13                            T2^15      T = 2^15
  mlp1x64      MLP 1 x 64                          mlp2x64    MLP 2 x 64 (Instant-NGP's)
  half-res     12 levels up to half the image's side

The transform search is off (`--transform none`) so every candidate trains at the same rate and
only the configuration differs. The candidates run round-robin per image (the order rotates
from image to image), so load changes hit all alike. Reported per candidate: mean decoded PSNR,
mean bpp (whole file), mean wall seconds, and dB per doubling of time relative to the default.

    python benchmarks/default_config.py                    # 4 images x 8 candidates: ~13 min on 2 cores
    python benchmarks/default_config.py --images kodim23 --steps-scale 0.02   # a smoke run
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import math
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec import presets  # noqa: E402
from nfcodec.codec import EncodeConfig, encode_image  # noqa: E402
from nfcodec.modalities.image import read_image  # noqa: E402

IMAGES = ["kodim01", "kodim13", "kodim20", "kodim23"]  # two textured, two smooth
BPP_LIMIT = 4.0
# name -> changes to presets.ARCH_DEFAULTS["grid"]
CANDIDATES: dict[str, dict[str, Any]] = {
    "default": {},
    "steps100": {"steps": 100},
    "steps225": {"steps": 225},
    "T2^13": {"log2_hashmap_size": 13},
    "T2^15": {"log2_hashmap_size": 15},
    "mlp1x64": {"mlp_width": 64},
    "mlp2x64": {"mlp_width": 64, "hidden_layers": 2},
    "half-res": {"n_levels": 12, "max_resolution_fraction": 0.5},
}


@contextlib.contextmanager
def grid_defaults(changes: dict[str, Any]) -> Iterator[None]:
    """Encode with ARCH_DEFAULTS["grid"] changed (restored afterwards, whatever happens)."""
    saved = copy.deepcopy(presets.ARCH_DEFAULTS["grid"])
    presets.ARCH_DEFAULTS["grid"].update(changes)
    try:
        yield
    finally:
        presets.ARCH_DEFAULTS["grid"].clear()
        presets.ARCH_DEFAULTS["grid"].update(saved)


def run_candidate(path: Path, changes: dict[str, Any], steps_scale: float) -> dict[str, Any]:
    signal = read_image(path)
    with grid_defaults(changes):
        steps = max(1, round(presets.ARCH_DEFAULTS["grid"]["steps"] * steps_scale))
        start = time.perf_counter()
        result = encode_image(signal, EncodeConfig(transform="none", steps=steps))
        seconds = time.perf_counter() - start
    return {"psnr": result.stages[-1].psnr, "bpp": result.bpp, "seconds": seconds, "steps": steps}


def summarise(per_image: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in names:
        runs = [r["candidates"][name] for r in per_image]
        out[name] = {k: float(np.mean([r[k] for r in runs])) for k in ("psnr", "bpp", "seconds")}
        out[name]["within_bpp_limit"] = out[name]["bpp"] <= BPP_LIMIT
    base = out["default"]
    for name in names:
        s = out[name]
        ratio = s["seconds"] / base["seconds"]
        s["time_vs_default"] = ratio
        s["db_vs_default"] = s["psnr"] - base["psnr"]
        # dB gained per doubling of training time against the default (None when it takes the same time)
        s["db_per_time_doubling"] = s["db_vs_default"] / math.log2(ratio) if abs(math.log2(ratio)) > 0.05 else None
    return out


def report(result: dict[str, Any]) -> str:
    names = list(result["summary"])
    rows = []
    for name in names:
        s = result["summary"][name]
        slope = "-" if s["db_per_time_doubling"] is None else f"{s['db_per_time_doubling']:+.2f}"
        rows.append([name, f"{s['psnr']:.2f}", f"{s['db_vs_default']:+.2f}", f"{s['bpp']:.3f}" + ("" if s["within_bpp_limit"] else " (> 4)"),
                     f"{s['seconds']:.1f}", f"{s['time_vs_default']:.2f}x", slope])
    table = markdown_table(["candidate", "mean dB", "dB vs default", "mean bpp", "mean s", "time vs default", "dB per time doubling"], rows)
    per = markdown_table(["image", *names], [[r["image"], *[f"{r['candidates'][n]['psnr']:.2f} / {r['candidates'][n]['bpp']:.2f} / {r['candidates'][n]['seconds']:.1f}"
                                                           for n in names]] for r in result["per_image"]])
    return f"{table}\n\nPer image (dB / bpp / s):\n\n{per}\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", nargs="+", default=IMAGES)
    ap.add_argument("--candidates", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    ap.add_argument("--steps-scale", type=float, default=1.0, help="scale every candidate's steps per stage (smoke runs)")
    ap.add_argument("--data-dir", type=Path, default=KODAK)
    ap.add_argument("--out", type=Path, default=RESULTS / "default_config.json")
    argv = list(argv if argv is not None else sys.argv[1:])
    args = ap.parse_args(argv)
    names = list(dict.fromkeys(["default", *args.candidates]))
    setup_runtime()
    paths = [args.data_dir / f"{name}.png" for name in args.images]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        ap.error(f"no such image(s): {', '.join(missing)}")
    run_candidate(paths[0], {}, min(args.steps_scale, 0.02))  # JIT and allocator warm-up
    per_image = []
    for i, path in enumerate(paths):
        order = names[i % len(names):] + names[: i % len(names)]  # rotate the order per image
        runs = {}
        for name in order:
            runs[name] = run_candidate(path, CANDIDATES[name], args.steps_scale)
            r = runs[name]
            print(f"{path.stem} {name}: {r['psnr']:.2f} dB, {r['bpp']:.3f} bpp, {r['seconds']:.1f} s", file=sys.stderr, flush=True)
        per_image.append({"image": path.stem, "order": order, "candidates": {n: runs[n] for n in names}})
    result = {"benchmark": "default_config", **run_metadata(argv),
              "settings": {"images": args.images, "candidates": {n: CANDIDATES[n] for n in names}, "steps_scale": args.steps_scale,
                           "bpp_limit": BPP_LIMIT},
              "per_image": per_image, "summary": summarise(per_image, names)}
    result["table_markdown"] = report(result)
    write_json(args.out, result)
    print(result["table_markdown"])
    return result


if __name__ == "__main__":
    main()
