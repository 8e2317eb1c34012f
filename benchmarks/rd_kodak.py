"""Rate-distortion on Kodak: our default encode's progressive stages next to JPEG, WebP, AVIF
(Pillow) and JPEG XL (libjxl in the ffmpeg that imageio-ffmpeg ships), all measured in the same
run, with the Bjontegaard delta-rate of ours against JPEG and WebP (issue 14's starting point).

PSNR is RGB over every sample of the 8-bit decoded image (peak 255), **the mean of the
per-image PSNRs**; bpp = 8 x bytes / (W x H), the mean over images. A classic codec's curve is
one point per quality setting (the same setting on every image); ours is one point per
progressive stage of the default `nfc encode` (search included).

    python benchmarks/rd_kodak.py                       # the 24 images of ../shared/data/kodak
    python benchmarks/rd_kodak.py --images 01 23 --no-ours
"""
from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec.metrics import psnr  # noqa: E402
from nfcodec.modalities.image import read_image  # noqa: E402

QUALITIES = {"jpeg": (10, 25, 50, 75, 90, 95), "webp": (10, 25, 50, 75, 90, 95), "avif": (10, 25, 50, 75, 90, 95),
             "jxl": (8.0, 4.0, 2.0, 1.0, 0.5, 0.25)}  # JPEG XL: butteraugli distance (lower is better)


def pillow_codec(fmt: str, **extra: Any) -> Callable[[np.ndarray, float], tuple[int, np.ndarray]]:
    def run(pixels: np.ndarray, quality: float) -> tuple[int, np.ndarray]:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=fmt, quality=int(quality), **extra)
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        return len(buffer.getvalue()), decoded

    return run


def jxl(pixels: np.ndarray, distance: float) -> tuple[int, np.ndarray]:
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    height, width = pixels.shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.jxl"
        subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
                        "-i", "-", "-c:v", "libjxl", "-distance", str(distance), "-effort", "7", str(out)],
                       input=pixels.tobytes(), check=True)
        raw = subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(out), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                             capture_output=True, check=True).stdout
        return out.stat().st_size, np.frombuffer(raw, np.uint8).reshape(height, width, 3)


CODECS = {"jpeg": pillow_codec("JPEG", subsampling=2), "webp": pillow_codec("WEBP", method=6),
          "avif": pillow_codec("AVIF", speed=6), "jxl": jxl}


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


def ours(path: Path) -> list[tuple[float, float]]:
    from nfcodec.codec import EncodeConfig, encode_image

    signal = read_image(path)
    result = encode_image(signal, EncodeConfig())
    pixels = signal.height * signal.width
    return [(s.prefix_bytes * 8 / pixels, s.psnr) for s in result.stages]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=KODAK)
    ap.add_argument("--images", nargs="*", help="numbers (01) or names; default: every PNG in --data-dir")
    ap.add_argument("--codecs", default=",".join(CODECS))
    ap.add_argument("--no-ours", action="store_true", help="classic codecs only")
    ap.add_argument("--out", type=Path, default=RESULTS / "rd_kodak.json")
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    paths = sorted(args.data_dir.glob("*.png")) if not args.images else [
        args.data_dir / (f"kodim{i}.png" if i.isdigit() else i if i.endswith(".png") else f"{i}.png") for i in args.images]
    codecs = args.codecs.split(",")
    per_image: dict[str, Any] = {}
    for path in paths:
        pixels = read_image(path).pixels[..., :3]
        entry: dict[str, Any] = {}
        for name in codecs:
            entry[name] = []
            for quality in QUALITIES[name]:
                size, decoded = CODECS[name](np.ascontiguousarray(pixels), quality)
                entry[name].append((size * 8 / (pixels.shape[0] * pixels.shape[1]), psnr(pixels, decoded, 255.0)))
        if not args.no_ours:
            entry["nfc"] = ours(path)
        per_image[path.name] = entry
        print(path.name, {k: [round(p, 2) for _, p in v] for k, v in entry.items()}, file=sys.stderr, flush=True)
    curves = {name: [tuple(np.mean([per_image[i][name][k] for i in per_image], axis=0)) for k in range(len(next(iter(per_image.values()))[name]))]
              for name in next(iter(per_image.values()))}
    rows = [[name, f"{setting}", f"{bpp:.3f}", f"{value:.2f}"]
            for name, points in curves.items()
            for setting, (bpp, value) in zip(QUALITIES.get(name, [f"width {k}" for k in range(1, 9)]), points)]
    table = markdown_table(["codec", "quality / stage", "mean bpp", "mean PSNR RGB dB"], rows)
    bd = {anchor: bd_rate(curves[anchor], curves["nfc"]) for anchor in ("jpeg", "webp") if "nfc" in curves and anchor in curves}
    print(table)
    print("BD-rate of nfc:", {k: (None if v is None else round(v, 1)) for k, v in bd.items()})
    out = {"benchmark": "rd_kodak", **run_metadata(argv), "images": list(per_image), "qualities": QUALITIES, "curves": curves,
           "bd_rate_percent": bd, "per_image": per_image, "table_markdown": table}
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
