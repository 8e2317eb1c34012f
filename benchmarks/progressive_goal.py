"""progressive_goal: what a progressive structure costs a rate-goal file, in one run.

On a 256x256 crop of a Kodak image at one rate goal: a single-stage file, a 2-stage file, and
4-stage files with the coded grid's stage splits ("even": equal shares of levels and MLP
units; "octaves": stage 1 every coarse level, then one level per stage, the MLP doubling) and
MLP widths, every stage's PSNR against the single-stage curve (three single-stage rates).
Issue 14's target: each stage within 1 dB of a single-stage file of the same size.

    python benchmarks/progressive_goal.py --image 01 --bpp 2.0
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, RESULTS, markdown_table, psnr_at, run_metadata, setup_runtime, write_json  # noqa: E402

VARIANTS = {  # name: (stages, coded-grid overrides)
    "2 stages (octaves, MLP 64)": (2, {}),
    "4 stages, even split, MLP 32": (4, {"stage_split": "even", "mlp_width": 32}),
    "4 stages, octaves, MLP 32": (4, {"stage_split": "octaves", "mlp_width": 32}),
    "4 stages, octaves, MLP 64 (default)": (4, {}),
}


def encode(path: Path, bpp: float, stages: int, steps: int, overrides: dict[str, Any]) -> list[tuple[float, float]]:
    from nfcodec import presets
    from nfcodec.codec import EncodeConfig, encode_image
    from nfcodec.modalities.image import read_image

    saved = dict(presets.CODED_DEFAULTS["grid"])
    presets.CODED_DEFAULTS["grid"].update(overrides)
    try:
        signal = read_image(path)
        result = encode_image(signal, EncodeConfig(bpp=bpp, stages=stages, steps=steps, transform="none"))
    finally:
        presets.CODED_DEFAULTS["grid"].clear()
        presets.CODED_DEFAULTS["grid"].update(saved)
    return [(s.prefix_bytes * 8 / result.pixels, s.psnr) for s in result.stages]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=KODAK)
    ap.add_argument("--image", default="01", help="Kodak image number")
    ap.add_argument("--bpp", type=float, default=2.0)
    ap.add_argument("--steps", type=int, default=160, help="training steps per stage of the progressive files (single: 2x)")
    ap.add_argument("--out", type=Path, default=RESULTS / "progressive_goal.json")
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    import imageio.v3 as iio

    pixels = iio.imread(args.data_dir / f"kodim{args.image}.png")
    with tempfile.TemporaryDirectory() as tmp:
        crop = Path(tmp) / "crop.png"
        iio.imwrite(crop, pixels[128:384, 256:512])
        single = [encode(crop, args.bpp * f, 1, 2 * args.steps, {})[0] for f in (0.125, 0.5, 1.0)]
        variants = {name: encode(crop, args.bpp, stages, args.steps, over) for name, (stages, over) in VARIANTS.items()}
    rows = [["single stage", f"{b:.3f}", f"{p:.2f}", ""] for b, p in single]
    for name, points in variants.items():
        for k, (b, p) in enumerate(points, start=1):
            ref = psnr_at(single, b, extend=0.05)  # goal files land a little under their goals
            rows.append([f"{name}, stage {k}", f"{b:.3f}", f"{p:.2f}", "" if ref is None else f"{p - ref:+.2f}"])
    table = markdown_table(["file", "bpp", "PSNR RGB dB", "vs single-stage at that rate"], rows)
    print(table)
    out = {"benchmark": "progressive_goal", **run_metadata(argv), "image": args.image, "crop": [128, 384, 256, 512],
           "single": single, "variants": variants, "table_markdown": table}
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
