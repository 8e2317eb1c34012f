"""Shapes against Draco, in the same run: our file's bytes and quality at every stage next to
the same mesh through Draco (DracoPy, compression level 7) at several quantisation levels,
every mesh measured against the same reference samples; plus `nfc decode`'s marching-cubes
time and peak memory at N = 256 and 512.

Quality conventions (nfcodec/modalities/shape_metrics.py): Chamfer-L1 in the Occupancy
Networks form (100k points a side, unsquared, 0.5 x (accuracy + completeness), the shape in
[-0.5, 0.5]^3), normal consistency, F-score at 1% of the box, IoU on 100k uniform points.
Ours is measured on the mesh `nfc decode --resolution N` extracts. Two independent samplings
of the same surface give Chamfer-L1 ~2.0e-3 at 100k points: the floor no codec goes under.

    python benchmarks/sdf_vs_draco.py ../shared/data/meshes/*.obj
    python benchmarks/sdf_vs_draco.py ../shared/data/meshes/*.obj --size 12KB --stages 1   # a size goal
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, markdown_table, peak, run_metadata, setup_runtime, write_json  # noqa: E402

from nfcodec.baselines import BASELINES  # noqa: E402
from nfcodec.codec import EncodeConfig, decode_bytes, encode_signal  # noqa: E402
from nfcodec.modalities.shape import SHAPE, field_inside, lattice_to_shape  # noqa: E402
from nfcodec.modalities.shape_io import marching_cubes  # noqa: E402
from nfcodec.modalities.shape_metrics import mesh_metrics  # noqa: E402

DRACO_BITS = BASELINES["draco"].settings
METRICS = ("chamfer_l1", "normal_consistency", "fscore_1pct", "iou")


def ours(signal: Any, data: bytes, width: int, resolution: int) -> dict[str, float]:
    result = decode_bytes(data, width=width, options={"resolution": resolution})
    volume = np.concatenate(list(result.decoder.blocks(width)))
    vertices, faces = marching_cubes([volume])
    return mesh_metrics(signal.reference, lattice_to_shape(vertices, resolution), faces, field_inside(volume, signal.reference.uniform))


def draco(signal: Any, bits: int) -> tuple[int, dict[str, float]]:
    """Bytes and quality of the mesh through Draco at `bits` (nfcodec.baselines)."""
    point = BASELINES["draco"].run(signal, bits)
    return point.bytes, point.metrics


def decode_cost(nff: Path, resolution: int, folder: Path) -> dict[str, float]:
    mib, seconds = peak(["nfc", "decode", str(nff), "--resolution", str(resolution), "-o", str(folder / f"d{resolution}.ply")])
    return {"resolution": resolution, "peak_mib": mib, "seconds": seconds}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("meshes", nargs="*", type=Path, default=[REPO / "samples" / "bunny_6k.obj"])
    ap.add_argument("--steps", type=int, default=None, help="training steps per stage [default: the encode's]")
    ap.add_argument("--stages", type=int, default=4)
    ap.add_argument("--size", help="encode with this size goal, e.g. 12KB (an entropy-coded file, issue 14) [default: the fixed-size field]")
    ap.add_argument("--resolution", type=int, default=256, help="marching cubes lattice for our quality")
    ap.add_argument("--decode-resolutions", default="256,512", help="N for the decode time / memory rows ('' to skip)")
    ap.add_argument("--out", type=Path, default=RESULTS / "sdf_vs_draco.json")
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    results, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.meshes:
            signal = SHAPE.read(path, {})
            triangles = signal.mesh.triangles  # as the file holds them (load_mesh drops degenerate ones)
            encoded = encode_signal(SHAPE, signal, EncodeConfig(stages=args.stages, steps=args.steps, size=args.size))
            entry: dict[str, Any] = {"mesh": path.name, "triangles": triangles, "encode_seconds": encoded.seconds,
                                     "ours": [], "draco": []}
            for stage in encoded.stages:
                metrics = ours(signal, encoded.data, stage.index, args.resolution)
                entry["ours"].append({"width": stage.index, "bytes": stage.prefix_bytes, **metrics})
                rows.append([path.name, f"nfc width {stage.index}", stage.prefix_bytes, f"{stage.prefix_bytes * 8 / triangles:.2f}",
                             *[f"{metrics[m]:.4g}" for m in METRICS]])
            for bits in DRACO_BITS:
                size, metrics = draco(signal, bits)
                entry["draco"].append({"bits": bits, "bytes": size, **metrics})
                rows.append([path.name, f"draco {bits} bits", size, f"{size * 8 / triangles:.2f}", *[f"{metrics[m]:.4g}" for m in METRICS]])
            draco11 = next(d for d in entry["draco"] if d["bits"] == 11)
            full, first = entry["ours"][-1], entry["ours"][0]
            entry["full_vs_draco11_bytes"] = full["bytes"] / draco11["bytes"]
            entry["full_vs_draco11_chamfer"] = full["chamfer_l1"] / draco11["chamfer_l1"]
            entry["first_stage_vs_draco11_bytes"] = first["bytes"] / draco11["bytes"]
            nff = Path(tmp) / f"{path.stem}.nff"
            nff.write_bytes(encoded.data)
            resolutions = [int(r) for r in args.decode_resolutions.split(",") if r]
            entry["decode"] = [decode_cost(nff, r, Path(tmp)) for r in resolutions]
            results.append(entry)
            print(rows[-len(DRACO_BITS) - len(encoded.stages):], file=sys.stderr, flush=True)
    table = markdown_table(["mesh", "coder", "bytes", "bits/triangle", *METRICS], rows)
    decode_rows = [[e["mesh"], d["resolution"], f"{d['seconds']:.1f}", f"{d['peak_mib']:.0f}"] for e in results for d in e["decode"]]
    decode_table = markdown_table(["mesh", "N", "nfc decode s", "peak MiB"], decode_rows)
    summary = markdown_table(["mesh", "full / draco-11 bytes", "full / draco-11 Chamfer-L1", "width 1 / draco-11 bytes"],
                             [[e["mesh"], f"{e['full_vs_draco11_bytes']:.2f}", f"{e['full_vs_draco11_chamfer']:.2f}",
                               f"{e['first_stage_vs_draco11_bytes']:.3f}"] for e in results])
    print(table, decode_table, summary, sep="\n\n")
    out = {"benchmark": "sdf_vs_draco", **run_metadata(argv), "resolution": args.resolution, "results": results,
           "table_markdown": table, "decode_markdown": decode_table, "summary_markdown": summary}
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
