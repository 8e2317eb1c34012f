"""Spectral growing of signed distance fields (the SDF experiment of Cho et al., "Streamable
Neural Fields", ECCV 2022) at a CPU budget: per-stage Chamfer of the progressive grid (`nfc
encode`'s default for shapes) and the progressive SIREN (the paper's 3 hidden layers, widths
148 / 240 / 309, its SDF loss), with encode seconds and file bytes, next to the paper's table.

Conventions: our Chamfer numbers are measured on the mesh marching cubes extracts from the
decoded field at `--resolution`^3, against 100k / 30k reference surface points of the input
(nfcodec/modalities/shape_metrics.py). The paper reports "Chamfer x 1e3" with squared
distances (DeepSDF's form); `chamfer_deepsdf x 1e3` is that form on our points and unit box
(the shape's longest side 1), so the two differ in point counts and normalisation: compare
orders of magnitude and the fall across stages, not digits.

    python benchmarks/sdf_growing.py ../shared/data/meshes/*.obj --steps 300 --siren-steps 100
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec.codec import EncodeConfig, encode_signal  # noqa: E402
from nfcodec.modalities.shape import SHAPE  # noqa: E402

# the paper's progressive Chamfer (x 1e3, its units) per stage
PAPER = {"armadillo": [0.321, 0.032, 0.023], "dragon": [0.104, 0.030, 0.025], "happy_buddha": [0.109, 0.019, 0.018]}
SIREN_WIDTHS = (148, 240, 309)
STAGES = 3


def encode(arch: str, signal: Any, steps: int, batch: int, widths: tuple[int, ...] | None) -> Any:
    config = EncodeConfig(arch=arch, stages=STAGES, widths=widths, steps=steps, batch_size=batch)
    return encode_signal(SHAPE, signal, config)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("meshes", nargs="*", type=Path, default=[REPO / "samples" / "bunny_6k.obj"])
    ap.add_argument("--steps", type=int, default=300, help="grid: steps per stage")
    ap.add_argument("--siren-steps", type=int, default=100, help="SIREN: steps per stage (each costs a second derivative)")
    ap.add_argument("--batch-size", type=int, default=1 << 16)
    ap.add_argument("--siren-batch-size", type=int, default=1 << 13)
    ap.add_argument("--siren-widths", default=",".join(map(str, SIREN_WIDTHS)))
    ap.add_argument("--archs", default="grid,siren")
    ap.add_argument("--out", type=Path, default=RESULTS / "sdf_growing.json")
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    siren_widths = tuple(int(w) for w in args.siren_widths.split(","))
    results, rows = [], []
    for path in args.meshes:
        signal = SHAPE.read(path, {})
        for arch in args.archs.split(","):
            siren = arch == "siren"
            result = encode(arch, signal, args.siren_steps if siren else args.steps,
                            args.siren_batch_size if siren else args.batch_size, siren_widths if siren else None)
            stages = [{"width": s.width, "bytes": s.prefix_bytes, "seconds": s.seconds, **s.metrics} for s in result.stages]
            results.append({"mesh": path.stem, "arch": arch, "encode_seconds": result.seconds, "stages": stages})
            paper = PAPER.get(path.stem)
            for k, s in enumerate(stages):
                rows.append([path.stem, arch, k + 1, s["width"], s["bytes"], f"{s['chamfer_l1'] * 1e3:.3f}",
                             f"{s['chamfer_deepsdf'] * 1e3:.4f}", f"{paper[k]:.3f}" if paper else "-",
                             f"{s['normal_consistency']:.3f}", f"{s['iou']:.3f}"])
            rows[-1].append(f"{result.seconds:.0f}")
            for row in rows[-len(stages):-1]:
                row.append("")
            print(rows[-len(stages):], file=sys.stderr, flush=True)
    headers = ["mesh", "field", "stage", "width", "bytes", "Chamfer-L1 x1e3 (OccNet)", "Chamfer x1e3 (DeepSDF form)",
               "paper progressive x1e3", "normal consistency", "IoU", "encode s"]
    table = markdown_table(headers, rows)
    print(table)
    out = {"benchmark": "sdf_growing", **run_metadata(argv), "paper": PAPER, "siren_widths": list(siren_widths),
           "quality_resolution": 128, "results": results, "table_markdown": table}
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
