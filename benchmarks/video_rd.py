"""video_rd: our clips' rate-distortion against x264, x265, SVT-AV1 and VVC at matched size.

For each clip (the bundled ones in ../shared/data/video, or any given; UVG raw files work too),
in one run: `nfc encode`'s default grid field on the first --frames frames scaled to --width
pixels wide; per-stage PSNR and bpp; encode seconds per frame; decode frames per second at full
width (rendering only, no output codec). Then each classic codec (the ffmpeg that
imageio-ffmpeg ships) on exactly the same RGB frames, its quality setting bisected to the
best quality whose file is no larger than ours. PSNR is RGB, per frame, averaged over frames
(classic codecs go through 4:2:0, as they would in use); bpp = bits / (frames x H x W).

    python benchmarks/video_rd.py --frames 24 --width 320
    python benchmarks/video_rd.py --frames 24 --width 320 --bpp 0.3 --stages 1   # a rate goal
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec.baselines import baselines_for  # noqa: E402

VIDEO_DIR = REPO.parent / "shared" / "data" / "video"
# the classic codecs (nfcodec.baselines): each an ffmpeg encoder, its quality option
# (`option`, `setting_range` best..worst) and the encoder options
CODECS = {b.name: b for b in baselines_for("video")}


def classic_encode(signal: Any, codec: str, quality: int) -> tuple[int, float]:
    """Bytes and RGB PSNR of the clip through one classic codec at one quality setting."""
    point = CODECS[codec].run(signal, quality)
    return point.bytes, point.metrics["psnr"]


def matched(signal: Any, codec: str, budget: int) -> dict[str, Any]:
    """The best quality setting whose file fits in `budget` bytes (bisection; sizes fall as the
    setting rises), or the smallest file if none fits."""
    lo, hi = CODECS[codec].setting_range
    tried: dict[int, tuple[int, float]] = {}
    while lo < hi:
        mid = (lo + hi) // 2
        tried[mid] = classic_encode(signal, codec, mid)
        if tried[mid][0] <= budget:
            hi = mid
        else:
            lo = mid + 1
    if lo not in tried:
        tried[lo] = classic_encode(signal, codec, lo)
    size, quality = tried[lo]
    return {"setting": lo, "bytes": size, "psnr": quality, "fits": size <= budget, "encodes": len(tried)}


def ours(path: Path, options: dict[str, Any], steps: int | None, goal: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    import torch

    from nfcodec import container
    from nfcodec.codec import EncodeConfig, encode_signal
    from nfcodec.decoding import Decoder
    from nfcodec.modalities.video import VIDEO

    signal = VIDEO.read(path, options)
    start = time.perf_counter()
    result = encode_signal(VIDEO, signal, EncodeConfig(steps=steps, input_options=options, **goal))
    encode_s = time.perf_counter() - start
    decoder = Decoder(container.read(result.data))
    decoder.load(container.read(result.data), len(result.stages))
    start = time.perf_counter()
    frames = sum(1 for _ in decoder.blocks(len(result.stages)))
    decode_fps = frames / (time.perf_counter() - start)
    t, h, w = signal.frames.shape[:3]
    row = {
        "frames": t, "size": [w, h], "bytes": len(result.data), "bpp": result.bpp,
        "stages": [{"width": s.index, "bytes": s.prefix_bytes, "bpp": s.prefix_bytes * 8 / (t * h * w), "psnr": s.psnr} for s in result.stages],
        "encode_s_per_frame": encode_s / t, "decode_fps": decode_fps, "threads": torch.get_num_threads(),
    }
    return row, signal


def run_clip(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    from nfcodec.modalities.video_io import probe_source

    source = probe_source(path, {})
    height = round(source.height * args.width / source.width / 2) * 2 if source.width > args.width else source.height
    options = {"frames": f"0:{args.frames}", **({"resize": f"{args.width}x{height}"} if source.width > args.width else {})}
    goal = {k: v for k, v in {"bpp": args.bpp, "stages": args.stages}.items() if v is not None}
    row, signal = ours(path, options, args.steps, goal)
    row["clip"] = path.name
    row["classic"] = {c: matched(signal, c, row["bytes"]) for c in args.codecs}
    return row


def report(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        table = [[f"nfc width {s['width']}", s["bytes"], f"{s['bpp']:.3f}", f"{s['psnr']:.2f}"] for s in r["stages"]]
        table += [[f"{c} ({CODECS[c].option} {m['setting']})", m["bytes"], f"{m['bytes'] * 8 / (r['frames'] * r['size'][0] * r['size'][1]):.3f}",
                   f"{m['psnr']:.2f}" + ("" if m["fits"] else " (smallest file larger)")] for c, m in r["classic"].items()]
        lines.append(f"### {r['clip']} ({r['frames']} frames, {r['size'][0]}x{r['size'][1]}): encode {r['encode_s_per_frame']:.2f} s/frame, "
                     f"decode {r['decode_fps']:.1f} frames/s\n\n" + markdown_table(["codec", "bytes", "bpp", "PSNR RGB dB"], table))
    return "\n\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="*", type=Path, help=f"clips [default: every file in {VIDEO_DIR}]")
    ap.add_argument("--frames", type=int, default=24, help="first N frames of each clip")
    ap.add_argument("--width", type=int, default=320, help="scale wider clips to this width (even height kept in proportion)")
    ap.add_argument("--steps", type=int, default=None, help="training steps per stage [default: the encode's]")
    ap.add_argument("--codecs", default=",".join(CODECS), help="classic codecs, comma-separated")
    ap.add_argument("--bpp", type=float, help="encode with this rate goal (an entropy-coded file, issue 14) [default: the fixed-size field]")
    ap.add_argument("--stages", type=int, help="stages of our file [default: the encode's]")
    ap.add_argument("--json-out", type=Path, default=RESULTS / "video_rd.json")
    args = ap.parse_args(argv)
    args.codecs = [c for c in args.codecs.split(",") if c]
    setup_runtime()
    clips = args.clips or sorted(p for p in VIDEO_DIR.iterdir() if p.suffix.lower() in (".mp4", ".yuv", ".y4m", ".mkv"))
    rows = [run_clip(path, args) for path in clips]
    result = {"meta": run_metadata(sys.argv[1:] if argv is None else argv), "settings": vars(args) | {"clips": [str(c) for c in clips]},
              "psnr": "RGB, per frame, mean over frames", "clips": rows}
    result["settings"]["json_out"] = str(args.json_out)
    print(report(rows))
    write_json(args.json_out, result)
    return result


if __name__ == "__main__":
    main()
