"""video_memory: peak memory of encoding and decoding a 1080p raw clip, against its length.

Makes UVG-named raw 8-bit 4:2:0 files (`Carphone_1920x1080_30fps_420_8bit_YUV.yuv`) from the
bundled clip scaled to 1920x1080 and looped, of each --frames length, then runs `nfc encode`
on each (no size flags; a short training, since memory, not quality, is measured here) and
`nfc decode` of the result to raw YUV, each in its own process, and reports the peak resident
memory of each process (ru_maxrss of the child, which counts the memory-mapped frame pages it
touched). Target (issue 12): under 3 GB at 120 frames, flat in the number of frames.

    python benchmarks/video_memory.py --frames 30,120
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, markdown_table, peak, run_metadata, write_json  # noqa: E402

CLIP = REPO / "samples" / "carphone_24f.mp4"



def make_raw(frames: int, size: tuple[int, int], folder: Path) -> Path:
    import imageio_ffmpeg

    width, height = size
    out = folder / f"Carphone_{width}x{height}_30fps_420_8bit_YUV.yuv"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-stream_loop", "-1", "-i", str(CLIP),
                    "-frames:v", str(frames), "-vf", f"scale={width}:{height}", "-f", "rawvideo", "-pix_fmt", "yuv420p", str(out)],
                   check=True)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default="30,120", help="clip lengths, comma-separated")
    ap.add_argument("--size", default="1920x1080", help="frame size WxH")
    ap.add_argument("--steps", type=int, default=2, help="training steps per stage")
    ap.add_argument("--json-out", type=Path, default=RESULTS / "video_memory.json")
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    nfc = [sys.executable, "-m", "nfcodec"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="nfc-video-memory-") as tmp:
        for frames in (int(v) for v in args.frames.split(",")):
            folder = Path(tmp) / str(frames)
            folder.mkdir()
            raw = make_raw(frames, size, folder)
            nff = folder / "clip.nff"
            encode_mib, encode_s = peak([*nfc, "encode", str(raw), "-o", str(nff), "--steps", str(args.steps), "-q"])
            decode_mib, decode_s = peak([*nfc, "decode", str(nff), "-o", str(folder / "out.yuv")])
            rows.append({"frames": frames, "raw_mib": raw.stat().st_size / 2**20, "encode_peak_mib": encode_mib,
                         "encode_s": encode_s, "decode_peak_mib": decode_mib, "decode_s": decode_s,
                         "decoded_bytes": (folder / "out.yuv").stat().st_size})
    table = markdown_table(["frames", "raw clip MiB", "encode peak MiB", "encode s", "decode peak MiB", "decode s"],
                           [[r["frames"], f"{r['raw_mib']:.0f}", f"{r['encode_peak_mib']:.0f}", f"{r['encode_s']:.0f}",
                             f"{r['decode_peak_mib']:.0f}", f"{r['decode_s']:.0f}"] for r in rows])
    print(table)
    result = {"meta": run_metadata(sys.argv[1:] if argv is None else argv), "size": list(size), "steps": args.steps, "runs": rows}
    write_json(args.json_out, result)
    return result


if __name__ == "__main__":
    main()
