"""Streaming partial downloads: what a client fetches to show width 1, 2, ... of a remote
`.nff`, and how long the first preview takes over loopback, next to a progressive JPEG of
similar final quality and its first scan.

Per Kodak image:
* `.nff`: the default encode (`nfc encode`, cached in `--nff-dir`); bytes through stage k
  (`Header.prefix_bytes(k)`) as a fraction of the file, the PSNR of width k, and the requests a
  client makes for width k (`nfcodec.streaming.decode_url`, counted: header + stages). Served
  by werkzeug (Range-capable) on 127.0.0.1; "first preview" is the wall time of
  `decode_url(url, width=1)`: both requests, parsing, and rendering width 1.
* progressive JPEG (Pillow, `progressive=True, optimize=True`) at the quality whose PSNR is
  closest to the `.nff`'s full-width PSNR; its first scan ends where the first marker after
  the first scan's entropy-coded data starts. First preview = one Range request for that
  prefix over the same server + decoding it (Pillow, truncated images allowed).
Times are medians of `--repeats`, both formats measured alternately.

    python benchmarks/streaming.py                       # all 24 (encodes missing files first)
    python benchmarks/streaming.py --images kodim23 --repeats 3
"""
from __future__ import annotations

import argparse
import io
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec import container  # noqa: E402
from nfcodec.codec import EncodeConfig, decode_bytes, encode  # noqa: E402
from nfcodec.metrics import psnr  # noqa: E402
from nfcodec.modalities.image import read_image  # noqa: E402
from nfcodec.streaming import decode_url  # noqa: E402

ALL_IMAGES = [f"kodim{i:02d}" for i in range(1, 25)]


class Server:
    """werkzeug's server with its own Range support, counting body bytes sent."""

    def __init__(self, root: Path):
        from werkzeug.serving import make_server
        from werkzeug.utils import send_file
        from werkzeug.wrappers import Request

        self.sent = 0

        def app(environ, start_response):
            path = root / Request(environ).path.lstrip("/")
            response = send_file(path, environ, conditional=True, max_age=0)
            for piece in response(environ, start_response):
                self.sent += len(piece)
                yield piece

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def jpeg_first_scan_end(data: bytes) -> int:
    """Offset where the first scan's entropy-coded data ends (the next non-RST marker)."""
    sos = data.find(b"\xff\xda")
    if sos < 0:
        raise ValueError("no SOS marker")
    i = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    while i < len(data) - 1:
        if data[i] == 0xFF and data[i + 1] not in (0x00, *range(0xD0, 0xD8)):
            return i
        i += 1
    return len(data)


def jpeg_matching(pixels: np.ndarray, target_psnr: float) -> tuple[bytes, int, float]:
    """The progressive JPEG whose PSNR is closest to `target_psnr` (quality 5..100)."""
    from PIL import Image

    image = Image.fromarray(pixels)
    best = None
    for quality in range(5, 101, 1):
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=quality, progressive=True, optimize=True)
        data = buf.getvalue()
        q_psnr = psnr(pixels, np.asarray(Image.open(io.BytesIO(data)).convert(image.mode)), 255)
        if best is None or abs(q_psnr - target_psnr) < abs(best[2] - target_psnr):
            best = (data, quality, q_psnr)
        if q_psnr > target_psnr + 1:
            break
    return best


def decode_jpeg_prefix(data: bytes, mode: str) -> np.ndarray:
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        return np.asarray(Image.open(io.BytesIO(data)).convert(mode))
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def fetch_prefix(url: str, end: int) -> bytes:
    request = urllib.request.Request(url, headers={"Range": f"bytes=0-{end - 1}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def run_image(path: Path, nff_path: Path, server: Server, repeats: int) -> dict[str, Any]:
    pixels = read_image(path).pixels
    data = nff_path.read_bytes()
    header = container.read_header(data)
    k_total = len(header.stages)
    widths = []
    for k in range(1, k_total + 1):
        decoded = decode_bytes(data, width=k).pixels
        widths.append({"width": k, "bytes": header.prefix_bytes(k), "fraction": header.prefix_bytes(k) / len(data),
                       "psnr": psnr(pixels, decoded, 255)})
    jpeg, quality, jpeg_psnr = jpeg_matching(pixels, widths[-1]["psnr"])
    jpeg_path = nff_path.with_suffix(".jpg")
    jpeg_path.write_bytes(jpeg)
    scan_end = jpeg_first_scan_end(jpeg)
    mode = "RGB" if pixels.ndim == 3 and pixels.shape[-1] == 3 else "L"
    first_scan = decode_jpeg_prefix(jpeg[:scan_end], mode)
    nff_url, jpeg_url = f"{server.base}/{nff_path.name}", f"{server.base}/{jpeg_path.name}"
    nff_times, jpeg_times, requests = [], [], None
    for _ in range(repeats):
        start = time.perf_counter()
        _, stats = decode_url(nff_url, width=1)
        nff_times.append(time.perf_counter() - start)
        requests = stats.requests
        start = time.perf_counter()
        decode_jpeg_prefix(fetch_prefix(jpeg_url, scan_end), mode)
        jpeg_times.append(time.perf_counter() - start)
    return {
        "image": path.stem,
        "nff_bytes": len(data),
        "widths": widths,
        "requests_per_width": requests,
        "nff_first_preview_s": float(np.median(nff_times)),
        "jpeg_quality": quality,
        "jpeg_bytes": len(jpeg),
        "jpeg_psnr": jpeg_psnr,
        "jpeg_first_scan_bytes": scan_end,
        "jpeg_first_scan_fraction": scan_end / len(jpeg),
        "jpeg_first_scan_psnr": psnr(pixels, first_scan, 255),
        "jpeg_first_preview_s": float(np.median(jpeg_times)),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", nargs="+", default=ALL_IMAGES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data-dir", type=Path, default=KODAK)
    ap.add_argument("--nff-dir", type=Path, default=Path("/tmp/nfcodec_kodak_nff"), help="cache of default encodes")
    ap.add_argument("--steps", type=int, default=None, help="steps per stage of missing encodes (default: the encoder's)")
    ap.add_argument("--out", type=Path, default=RESULTS / "streaming.json")
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    args.nff_dir.mkdir(parents=True, exist_ok=True)
    for name in args.images:
        target = args.nff_dir / f"{name}.nff"
        if not target.exists():
            print(f"encoding {name} (default settings) ...", file=sys.stderr, flush=True)
            encode(args.data_dir / f"{name}.png", target, EncodeConfig(steps=args.steps))
    server = Server(args.nff_dir)
    try:
        rows = []
        for name in args.images:
            rows.append(run_image(args.data_dir / f"{name}.png", args.nff_dir / f"{name}.nff", server, args.repeats))
            r = rows[-1]
            print(f"{name}: width 1 = {r['widths'][0]['fraction']:.1%} of {r['nff_bytes']} B in {r['nff_first_preview_s'] * 1e3:.0f} ms; "
                  f"JPEG q{r['jpeg_quality']} first scan {r['jpeg_first_scan_fraction']:.1%} in {r['jpeg_first_preview_s'] * 1e3:.0f} ms",
                  file=sys.stderr, flush=True)
    finally:
        server.stop()
    k_total = len(rows[0]["widths"])
    summary = {
        "mean_fraction_per_width": [float(np.mean([r["widths"][k]["fraction"] for r in rows])) for k in range(k_total)],
        "mean_psnr_per_width": [float(np.mean([r["widths"][k]["psnr"] for r in rows])) for k in range(k_total)],
        "mean_nff_first_preview_s": float(np.mean([r["nff_first_preview_s"] for r in rows])),
        "mean_jpeg_first_scan_fraction": float(np.mean([r["jpeg_first_scan_fraction"] for r in rows])),
        "mean_jpeg_first_scan_psnr": float(np.mean([r["jpeg_first_scan_psnr"] for r in rows])),
        "mean_jpeg_first_preview_s": float(np.mean([r["jpeg_first_preview_s"] for r in rows])),
        "requests_per_width": rows[0]["requests_per_width"],
    }
    result = {"benchmark": "streaming", **run_metadata(argv), "settings": {"repeats": args.repeats, "images": args.images},
              "per_image": rows, "summary": summary}
    write_json(args.out, result)
    print(markdown(result))
    return result


def markdown(result: dict[str, Any]) -> str:
    rows = []
    for r in result["per_image"]:
        widths = " / ".join(f"{w['fraction']:.1%}" for w in r["widths"])
        quality = " / ".join(f"{w['psnr']:.1f}" for w in r["widths"])
        rows.append([r["image"], r["nff_bytes"], widths, quality, f"{r['nff_first_preview_s'] * 1e3:.0f}",
                     f"q{r['jpeg_quality']}, {r['jpeg_bytes']} B, {r['jpeg_psnr']:.1f} dB",
                     f"{r['jpeg_first_scan_fraction']:.1%}, {r['jpeg_first_scan_psnr']:.1f} dB", f"{r['jpeg_first_preview_s'] * 1e3:.0f}"])
    s = result["summary"]
    table = markdown_table(["image", ".nff bytes", "bytes for width 1 / 2 / ... (of file)", "PSNR dB per width",
                            ".nff first preview ms", "progressive JPEG", "first scan (of file), PSNR", "JPEG first preview ms"], rows)
    return (f"{table}\n\nMeans: bytes per width {' / '.join(f'{x:.1%}' for x in s['mean_fraction_per_width'])} of the file, "
            f"PSNR {' / '.join(f'{x:.2f}' for x in s['mean_psnr_per_width'])} dB, first preview "
            f"{s['mean_nff_first_preview_s'] * 1e3:.0f} ms ({s['requests_per_width']} requests); progressive JPEG first scan "
            f"{s['mean_jpeg_first_scan_fraction']:.1%} of its file at {s['mean_jpeg_first_scan_psnr']:.2f} dB, "
            f"{s['mean_jpeg_first_preview_s'] * 1e3:.0f} ms.\n")


if __name__ == "__main__":
    main()
