"""image_memory: peak memory of `nfc encode` (and `nfc decode`) against an image's pixel count.

Makes realistic 8-bit RGB PNGs of each --megapixels size (the bundled Kodak sample scaled up
bicubically, with +-3 levels of uniform noise so that the texture is not perfectly smooth; saved
with fast zlib), then runs `nfc encode` on each in its own process, once per --transforms choice
("none": no search; "auto": the default transform search), with a short training (memory, not
quality, is measured here: the training batch is the same 2^19 points at any step count), and
`nfc decode` of one of the files to PNG. Reports each process's peak resident memory (ru_maxrss
of the child), that peak per pixel, and the slope between the smallest and the largest size
(bytes a pixel the peak grows by). Target (issue 16): a 50-megapixel encode under 4 GB, its peak
not growing with a large slope.

    python benchmarks/image_memory.py --megapixels 4,12,25,50
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, markdown_table, peak, run_metadata, write_json  # noqa: E402

SOURCE = REPO / "samples" / "kodim23.png"
MIB = 2**20


def make_image(megapixels: float, path: Path, seed: int = 0) -> tuple[int, int]:
    """An 8-bit RGB PNG of about `megapixels` million pixels with the source's aspect ratio;
    returns (width, height). Noise is added a band of rows at a time (bounded memory here too)."""
    from PIL import Image

    with Image.open(SOURCE) as source:
        source = source.convert("RGB")
        aspect = source.width / source.height
        height = max(1, round((megapixels * 1e6 / aspect) ** 0.5))
        width = max(1, round(height * aspect))
        pixels = np.asarray(source.resize((width, height), Image.BICUBIC)).copy()
    rng = np.random.default_rng(seed)
    for r in range(0, height, 512):
        band = pixels[r : r + 512].astype(np.int16) + rng.integers(-3, 4, pixels[r : r + 512].shape, dtype=np.int16)
        pixels[r : r + 512] = np.clip(band, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, compress_level=1)
    return width, height


def slope(rows: list[dict[str, Any]], key: str) -> float | None:
    """Bytes a pixel the peak `key` grows by from the smallest image to the largest."""
    if len(rows) < 2:
        return None
    small, large = min(rows, key=lambda r: r["pixels"]), max(rows, key=lambda r: r["pixels"])
    return (large[key] - small[key]) * MIB / (large["pixels"] - small["pixels"])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--megapixels", default="4,12,25,50", help="image sizes in millions of pixels, comma-separated")
    ap.add_argument("--transforms", default="none,auto", help="--transform values to encode with, comma-separated")
    ap.add_argument("--steps", type=int, default=5, help="training steps per stage")
    ap.add_argument("--stages", type=int, default=2)
    ap.add_argument("--json-out", type=Path, default=RESULTS / "image_memory.json")
    args = ap.parse_args(argv)
    transforms = [t.strip() for t in args.transforms.split(",") if t.strip()]
    nfc = [sys.executable, "-m", "nfcodec"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="nfc-image-memory-") as tmp:
        for megapixels in (float(v) for v in args.megapixels.split(",")):
            image = Path(tmp) / f"{megapixels:g}mp.png"
            width, height = make_image(megapixels, image)
            for transform in transforms:
                nff = Path(tmp) / f"{megapixels:g}mp_{transform}.nff"
                encode_mib, encode_s = peak([*nfc, "encode", str(image), "-o", str(nff), "--steps", str(args.steps),
                                             "--stages", str(args.stages), "--transform", transform, "-q"])
                row = {"megapixels": megapixels, "width": width, "height": height, "pixels": width * height,
                       "png_bytes": image.stat().st_size, "transform": transform, "encode_peak_mib": encode_mib,
                       "encode_bytes_per_pixel": encode_mib * MIB / (width * height), "encode_s": encode_s,
                       "nff_bytes": nff.stat().st_size}
                if transform == transforms[0]:  # one decode per size: the field, not the transform, sets its cost
                    decoded = Path(tmp) / "decoded.png"
                    row["decode_peak_mib"], row["decode_s"] = peak([*nfc, "decode", str(nff), "-o", str(decoded)])
                    decoded.unlink()
                rows.append(row)
                print(f"{megapixels:g} MP {transform}: encode peak {encode_mib:.0f} MiB", file=sys.stderr)
            image.unlink()
    table = markdown_table(
        ["MP", "size", "transform", "encode peak MiB", "bytes / pixel", "encode s", "decode peak MiB"],
        [[f"{r['megapixels']:g}", f"{r['width']}x{r['height']}", r["transform"], f"{r['encode_peak_mib']:.0f}",
          f"{r['encode_bytes_per_pixel']:.1f}", f"{r['encode_s']:.0f}",
          f"{r['decode_peak_mib']:.0f}" if "decode_peak_mib" in r else ""] for r in rows])
    slopes = {t: slope([r for r in rows if r["transform"] == t], "encode_peak_mib") for t in transforms}
    decode_slope = slope([r for r in rows if "decode_peak_mib" in r], "decode_peak_mib")
    print(table)
    for t, s in slopes.items():
        if s is not None:
            print(f"encode --transform {t}: the peak grows by {s:.1f} bytes a pixel")
    if decode_slope is not None:
        print(f"decode: the peak grows by {decode_slope:.1f} bytes a pixel")
    result = {"meta": run_metadata(sys.argv[1:] if argv is None else argv), "steps": args.steps, "stages": args.stages,
              "runs": rows, "encode_slope_bytes_per_pixel": slopes, "decode_slope_bytes_per_pixel": decode_slope}
    write_json(args.json_out, result)
    return result


if __name__ == "__main__":
    main()
