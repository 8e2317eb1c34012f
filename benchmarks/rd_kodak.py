"""Rate-distortion on Kodak (issue 14): our rate-goal encodes at 0.1 / 0.25 / 0.5 / 1 / 2 bpp
(`nfc encode --bpp B --stages 1`) and a progressive 4-stage file (`--bpp 2 --stages 4`, whose
stages sit at 0.25 / 0.5 / 1 / 2 bpp), next to JPEG, WebP, AVIF (Pillow) and JPEG XL (libjxl in
the ffmpeg that imageio-ffmpeg ships), all measured in the same run; the published COIN /
Struempler / COOL-CHIC / C3 / Cool-chic 5.0 points (../shared/notes/codec_anchors.md) as
reference lines; the Bjontegaard delta-rate of ours against JPEG and WebP; a plot (PNG, SVG);
encode and decode seconds per image.

PSNR is RGB over every sample of the 8-bit decoded image (peak 255), **the mean of the
per-image PSNRs**; bpp = 8 x bytes / (W x H), the mean over images. A classic codec's curve is
one point per quality setting (the same setting on every image). Our encodes use
`--transform none` (the search's probes are made for the fixed-size field) and run `--workers`
images at once, the cores split between them.

    python benchmarks/rd_kodak.py --effort fast --workers 2      # the committed run
    python benchmarks/rd_kodak.py --images 01 23 --no-ours
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, RESULTS, markdown_table, psnr_at, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec.baselines import BASELINES, baselines_for  # noqa: E402
from nfcodec.metrics import psnr  # noqa: E402
from nfcodec.modalities.image import read_image  # noqa: E402

# the classic codecs (nfcodec.baselines) at their default sweeps: Pillow's quality; JPEG XL's
# butteraugli distance (lower is better)
QUALITIES = {b.name: b.settings for b in baselines_for("image")}
RATES = (0.1, 0.25, 0.5, 1.0, 2.0)
PROGRESSIVE = (2.0, 4)  # one file at 2 bpp in 4 stages: 0.25 / 0.5 / 1 / 2 bpp
# Published Kodak points (mean PSNR RGB dB at bpp), from ../shared/notes/codec_anchors.md
PUBLISHED = {
    "COIN": [(0.25, 25.9), (0.5, 27.8), (1.0, 30.0)],
    "Struempler 2022": [(0.25, 28.3), (0.5, 30.6)],
    "COOL-CHIC v1": [(0.25, 29.3), (0.5, 32.3), (1.0, 36.5)],
    "C3": [(0.25, 30.9), (0.5, 34.2), (1.0, 38.5)],
    "Cool-chic 5.0": [(0.1, 28.06), (0.25, 31.48), (0.5, 34.74), (1.0, 39.11)],
}


def bd_rate(anchor: list[tuple[float, float]], test: list[tuple[float, float]]) -> float | None:
    """Bjontegaard delta-rate (%) of `test` against `anchor`, each [(bpp, psnr), ...]: cubic fits
    of log-rate against PSNR, averaged over the PSNR range both cover (negative: fewer bits)."""
    if len(anchor) < 4 or len(test) < 4:
        return None
    (ra, pa), (rt, pt) = (np.array(sorted(c, key=lambda x: x[1])).T for c in (anchor, test))
    lo, hi = max(pa.min(), pt.min()), min(pa.max(), pt.max())
    if hi <= lo:
        return None
    fit_a, fit_t = np.polyfit(pa, np.log(ra), 3), np.polyfit(pt, np.log(rt), 3)
    area_a = np.diff(np.polyval(np.polyint(fit_a), [lo, hi]))[0]
    area_t = np.diff(np.polyval(np.polyint(fit_t), [lo, hi]))[0]
    return float((np.exp((area_t - area_a) / (hi - lo)) - 1) * 100)


def ours(path: Path, effort: str, steps: int | None) -> dict[str, Any]:
    """Our encodes of one image: single-stage files at RATES and the progressive file, with the
    encode and decode seconds of each."""
    from nfcodec.codec import EncodeConfig, decode_bytes, encode_image

    signal = read_image(path)
    pixels = signal.height * signal.width
    out: dict[str, Any] = {"single": [], "progressive": [], "encode_seconds": [], "decode_seconds": []}
    jobs = [("single", bpp, 1) for bpp in RATES] + [("progressive", *PROGRESSIVE)]
    for kind, bpp, stages in jobs:
        start = time.perf_counter()
        result = encode_image(signal, EncodeConfig(bpp=bpp, stages=stages, transform="none", effort=effort, steps=steps))
        out["encode_seconds"].append(time.perf_counter() - start)
        start = time.perf_counter()
        decoded = decode_bytes(result.data)
        out["decode_seconds"].append(time.perf_counter() - start)
        check = psnr(signal.pixels[..., :3], decoded.pixels[..., :3], 255.0)
        assert abs(check - result.stages[-1].psnr) < 1e-6, "the decoded file is not the reported one"
        points = [(s.prefix_bytes * 8 / pixels, s.psnr) for s in result.stages]
        out[kind] += points
    return out


def _worker_init(threads: int) -> None:
    from nfcodec.threads import configure_threads

    configure_threads(threads)


def run_ours(paths: list[Path], effort: str, steps: int | None, workers: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(image name, `ours` result) in order; `workers` processes share the cores (one: here)."""
    if workers <= 1:
        for path in paths:
            yield path.name, ours(path, effort, steps)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, initializer=_worker_init, initargs=(threads,)) as pool:
        futures = [(path.name, pool.submit(ours, path, effort, steps)) for path in paths]
        for name, future in futures:
            yield name, future.result()


def classic(path: Path, codecs: list[str]) -> dict[str, list[tuple[float, float]]]:
    """(bpp, PSNR) of each classic codec at each of its QUALITIES on one image, measured as our
    stages are (nfcodec.baselines)."""
    signal = read_image(path)
    return {name: [(p.rate, p.metrics["psnr"]) for p in (BASELINES[name].run(signal, q) for q in QUALITIES[name])]
            for name in codecs}


def mean_curve(per_image: dict[str, Any], key: str) -> list[tuple[float, float]]:
    entries = [e[key] for e in per_image.values()]
    return [tuple(float(x) for x in np.mean([e[k] for e in entries], axis=0)) for k in range(len(entries[0]))]


def targets(curves: dict[str, list[tuple[float, float]]]) -> list[list[str]]:
    """Issue 14's targets against the measured curves."""
    rows = []
    single, jpeg, webp = curves.get("nfc"), curves.get("jpeg"), curves.get("webp")
    if single and jpeg:
        for bpp, value in single:
            if 0.2 <= bpp <= 2.1:
                ref = psnr_at(jpeg, bpp)
                rows.append([f"beat JPEG at {bpp:.2f} bpp", f"{value:.2f} dB vs JPEG {ref:.2f} dB" if ref else "JPEG curve does not reach",
                             "met" if ref is not None and value > ref else "not met"])
    if single and webp:
        for bpp, value in single:
            if 0.2 <= bpp <= 0.55:
                ref = psnr_at(webp, bpp)
                rows.append([f"match WebP at {bpp:.2f} bpp", f"{value:.2f} dB vs WebP {ref:.2f} dB" if ref else "WebP curve does not reach",
                             "met" if ref is not None and value >= ref else "not met"])
    if single and curves.get("nfc_progressive"):
        for bpp, value in curves["nfc_progressive"]:
            ref = psnr_at(single, bpp)
            if ref is not None:
                rows.append([f"progressive stage at {bpp:.2f} bpp within 1 dB of single-stage", f"{value:.2f} vs {ref:.2f} dB",
                             "met" if value >= ref - 1.0 else "not met"])
    return rows


def plot(curves: dict[str, list[tuple[float, float]]], out: Path) -> list[str]:
    """The curves as PNG and SVG beside `out` (none without matplotlib: pip install nfcodec[plot])."""
    try:
        import matplotlib
    except ImportError:
        print("no plot: matplotlib is not installed", file=sys.stderr)
        return []

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for name, points in curves.items():
        rates, values = np.array(sorted(points)).T
        style = {"nfc": dict(lw=2.5, marker="o", color="k"), "nfc_progressive": dict(ls="none", marker="*", ms=12, color="tab:red")}
        ax.plot(rates, values, label={"nfc": "nfc (single stage)", "nfc_progressive": "nfc 4-stage file, each stage"}.get(name, name),
                **style.get(name, dict(marker=".")))
    for name, points in PUBLISHED.items():
        rates, values = np.array(points).T
        ax.plot(rates, values, ls="--", lw=1, marker="x", label=f"{name} (published)")
    ax.set_xscale("log")
    ax.set_xlim(0.08, 4)
    ax.set_xlabel("bits per pixel (mean over the 24 Kodak images)")
    ax.set_ylabel("PSNR RGB, dB (mean of per-image PSNR)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    written = []
    for suffix in (".png", ".svg"):
        path = out.with_suffix(suffix)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        written.append(path.name)
    plt.close(fig)
    return written


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=KODAK)
    ap.add_argument("--images", nargs="*", help="numbers (01) or names; default: every PNG in --data-dir")
    ap.add_argument("--codecs", default=",".join(QUALITIES))
    ap.add_argument("--no-ours", action="store_true", help="classic codecs only")
    ap.add_argument("--effort", choices=("fast", "default", "slow"), default="default")
    ap.add_argument("--steps", type=int, help="training steps per stage (overrides --effort; smoke runs)")
    ap.add_argument("--workers", type=int, default=1, help="images encoded at once (the cores are split between them)")
    ap.add_argument("--out", type=Path, default=RESULTS / "rd_kodak.json")
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    paths = sorted(args.data_dir.glob("*.png")) if not args.images else [
        args.data_dir / (f"kodim{i}.png" if i.isdigit() else i if i.endswith(".png") else f"{i}.png") for i in args.images]
    codecs = args.codecs.split(",")
    per_image: dict[str, Any] = {p.name: classic(p, codecs) for p in paths}
    if not args.no_ours:
        for name, result in run_ours(paths, args.effort, args.steps, args.workers):
            per_image[name].update({"nfc": result["single"], "nfc_progressive": result["progressive"],
                                    "encode_seconds": result["encode_seconds"], "decode_seconds": result["decode_seconds"]})
            print(name, {k: [round(p, 2) for _, p in per_image[name][k]] for k in ("nfc", "nfc_progressive")},
                  f"encode {sum(result['encode_seconds']):.0f} s", file=sys.stderr, flush=True)
            write_json(args.out.with_suffix(".partial.json"), {"argv": argv, "per_image": per_image})  # a long run's progress
        args.out.with_suffix(".partial.json").unlink(missing_ok=True)
    keys = codecs + ([] if args.no_ours else ["nfc", "nfc_progressive"])
    curves = {key: mean_curve(per_image, key) for key in keys}
    labels = {**QUALITIES, "nfc": [f"--bpp {r}" for r in RATES], "nfc_progressive": [f"stage {k}" for k in range(1, PROGRESSIVE[1] + 1)]}
    rows = [[name, f"{setting}", f"{bpp:.3f}", f"{value:.2f}"] for name, points in curves.items()
            for setting, (bpp, value) in zip(labels[name], points)]
    table = markdown_table(["codec", "quality / goal / stage", "mean bpp", "mean PSNR RGB dB"], rows)
    bd = {anchor: bd_rate(curves[anchor], curves["nfc"]) for anchor in ("jpeg", "webp") if "nfc" in curves and anchor in curves}
    goals = targets(curves)
    seconds = {}
    if not args.no_ours:
        enc = np.array([per_image[i]["encode_seconds"] for i in per_image])
        dec = np.array([per_image[i]["decode_seconds"] for i in per_image])
        jobs = [f"--bpp {r}" for r in RATES] + [f"--bpp {PROGRESSIVE[0]} --stages {PROGRESSIVE[1]}"]
        seconds = {"jobs": jobs, "encode_mean": enc.mean(axis=0).tolist(), "encode_max": enc.max(axis=0).tolist(),
                   "decode_mean": dec.mean(axis=0).tolist(), "decode_max": dec.max(axis=0).tolist(),
                   "threads_per_encode": max(1, (os.cpu_count() or 1) // args.workers)}
    print(table)
    print("BD-rate of nfc:", {k: (None if v is None else round(v, 1)) for k, v in bd.items()})
    print(markdown_table(["target", "measured", "status"], goals))
    plots = plot(curves, args.out.with_suffix("")) if not args.no_ours else []
    out = {"benchmark": "rd_kodak", **run_metadata(argv), "images": list(per_image), "qualities": QUALITIES, "rates": RATES,
           "progressive": PROGRESSIVE, "published": PUBLISHED, "curves": curves, "bd_rate_percent": bd, "targets": goals,
           "seconds": seconds, "plots": plots, "per_image": per_image, "table_markdown": table}
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
