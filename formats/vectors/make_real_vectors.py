"""Write the real conformance vectors into formats/vectors/real/: small `.nff` files that
`nfc encode` made from the bundled samples, one per modality and coding, and
`real_vectors.json`, what each decodes to (a folder of their own: make_vectors.py owns the
`.nff` files beside it).

    python formats/vectors/make_real_vectors.py           # encode them again, rewrite files and manifest
    python formats/vectors/make_real_vectors.py --check   # decode the committed files, compare (exit 1 if not)

The files are the reference: a decoder change that decodes them differently is a break of
old files (tests/test_real_vectors.py checks every width of every vector). Encoding is
deterministic on one machine (same bytes at any thread count), not across CPUs (float32 and
bf16 products round differently), so a rewrite on another machine gives other files: commit
them only with a deliberate format or encoder change, reviewing the diff.

For every width the manifest holds the decoded samples' shape, dtype and SHA-256 (images and
clips: the decoded integers; shapes: the float32 signed distances on an R^3 lattice), and a
*robust* digest. Decoding evaluates the MLP with torch's float32 products, whose rounding
depends on the CPU's kernels (AVX2, AVX-512, ...), not on the thread count; a sample whose value
lies within `tie` of a rounding boundary (images and clips: x.5 of an integer sample; shapes:
of a multiple of SDF_QUANTUM) may round the other way elsewhere. The script finds those samples
from a float64 evaluation of the same network and lists them (`fragile`; `tie` is 4 times the
largest float32 error seen, so it is wide for 16-bit samples, which float32 barely resolves);
the robust digest is of the samples in units of `quantum`, rounded, with the fragile ones set
to 0. Every other sample is the same on every machine.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SAMPLES = ROOT / "samples"
OUT = HERE / "real"
MANIFEST = OUT / "real_vectors.json"
NFC = [sys.executable, "-c", "import sys; from nfcodec.cli import main; sys.exit(main())"]
SDF_QUANTUM = 2.0**-14  # shape units: the robust digest's unit for signed distances
SDF_RESOLUTION = 16  # the lattice shapes are decoded on
# samples closer than this to a rounding boundary are fragile, in units of the quantum: at least
# MIN_TIE, and TIE_FACTOR times the largest difference between the float32 decode's values and
# float64's (two float32 decodes differ by at most about twice that)
MIN_TIE, TIE_FACTOR = 1e-3, 4.0


def sources(tmp: Path) -> list[dict[str, Any]]:
    """The vectors: file name, input, `nfc encode` options, `nfc decode` options, what it covers."""
    from PIL import Image

    kodak = np.asarray(Image.open(SAMPLES / "kodim23.png"))
    rgb = tmp / "kodim23_crop.png"
    Image.fromarray(kodak[200:224, 300:332]).save(rgb)  # 24 x 32, RGB, 8 bits
    grey = tmp / "kodim23_grey16.png"
    luma = kodak[180:212, 420:452].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    Image.fromarray((np.round(luma) * 257).astype(np.uint16)).save(grey)  # 32 x 32, grey, 16 bits
    qe = tmp / "kodim23_64.png"
    Image.fromarray(kodak[224:288, 352:416]).save(qe)
    clip = str(SAMPLES / "carphone_24f.mp4")
    bunny = str(SAMPLES / "bunny_6k.obj")
    return [
        {"file": "real_image_rgb.nff", "input": rgb, "covers": "image, RGB 8-bit, grid, 2 stages, q8/f16 zstd, the invert transform",
         "encode": ["--stages", "2", "--steps", "60", "--transform", "invert"]},
        {"file": "real_image_grey16.nff", "input": grey, "covers": "image, grey 16-bit, grid, 3 stages, q8/f16 zstd",
         "encode": ["--stages", "3", "--steps", "40", "--transform", "none"]},
        {"file": "real_image_qe.nff", "input": qe, "covers": "image, RGB, a --bpp goal (6 bpp on 64 x 64): entropy-coded qe tensors (format 1.1)",
         "encode": ["--bpp", "6", "--steps", "60", "--transform", "none"]},
        {"file": "real_image_spatial.nff", "input": rgb, "covers": "image, spatial growth: stage k covers the first k/2 of the columns",
         "encode": ["--grow", "spatial", "--stages", "2", "--steps", "30", "--transform", "none"]},
        {"file": "real_clip.nff", "input": clip, "covers": "clip, 2 frames at 24 x 16, grid over (t, y, x), 2 stages, q8/f16 zstd",
         "encode": ["--frames", "0:2", "--resize", "24x16", "--stages", "2", "--steps", "30", "--transform", "none"]},
        {"file": "real_clip_temporal.nff", "input": clip,
         "covers": "clip, 4 frames at 32 x 24, temporal growth (stage k covers the first 2k frames), a --size goal (qe)",
         "encode": ["--frames", "0:4", "--resize", "32x24", "--grow", "temporal", "--size", "6KB", "--steps", "40", "--transform", "none"]},
        {"file": "real_shape.nff", "input": bunny, "covers": "shape (the bunny's signed distance field), a --size goal, 2 stages",
         "encode": ["--size", "6KB", "--steps", "40"], "decode": {"resolution": SDF_RESOLUTION}},
    ]


def encode(vector: dict[str, Any], out: Path) -> None:
    args = [*NFC, "encode", str(vector["input"]), "-o", str(out), "--threads", "1", "-q", *vector["encode"]]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{vector['file']}: nfc encode failed:\n{done.stderr}")


# ---- what a file decodes to ---------------------------------------------------------------


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def robust_digest(samples: np.ndarray, quantum: float, fragile: list[int]) -> str:
    """SHA-256 of the samples in units of `quantum`, rounded, as little-endian int64, with the
    fragile ones (flat indices) set to 0."""
    units = np.rint(np.asarray(samples, dtype=np.float64) / quantum).astype("<i8").reshape(-1)
    units[np.asarray(fragile, dtype=np.int64)] = 0
    return hashlib.sha256(units.tobytes()).hexdigest()


def decoded_samples(data: bytes, width: int, options: dict[str, Any]) -> np.ndarray:
    from nfcodec import decode_bytes

    return np.asarray(decode_bytes(data, width=width, options=options).pixels)


def expected(data: bytes, options: dict[str, Any]) -> list[dict[str, Any]]:
    """Per width: the decoded samples' shape, dtype, SHA-256 and robust digest (fragile samples
    found by evaluating the network in float64 beside the decoder's float32)."""
    from nfcodec import container

    rows = []
    for width in range(1, container.read(data, strict=True).stages_total + 1):
        samples, single, exact_values, modality, peak = _decode_with_float64(data, width, options)
        if modality == "shape":
            quantum, scaled, scaled32, inside = SDF_QUANTUM, exact_values / SDF_QUANTUM, single / SDF_QUANTUM, True
        else:
            quantum, scaled, scaled32 = 1.0, np.clip(exact_values, 0.0, 1.0) * peak, np.clip(single, 0.0, 1.0) * peak
            inside = (exact_values > 0.0) & (exact_values < 1.0)
        spread = float(np.max(np.abs(scaled - scaled32))) if scaled.size else 0.0
        tie = float(2.0 ** np.ceil(np.log2(max(MIN_TIE, TIE_FACTOR * spread))))
        off = inside & (np.abs(scaled - np.floor(scaled) - 0.5) < tie)
        fragile = [int(i) for i in np.flatnonzero(np.broadcast_to(off, scaled.shape).reshape(-1))]
        # the float32 decode agrees with float64 everywhere else (by the choice of tie)
        units = np.rint(scaled).reshape(-1)
        mismatch = np.flatnonzero(units != np.rint(np.asarray(samples, np.float64) / quantum).reshape(-1))
        if not set(int(i) for i in mismatch) <= set(fragile):
            raise SystemExit(f"width {width}: float32 and float64 decodes differ beyond the tie margin at {mismatch[:10]}")
        rows.append({
            "width": width, "shape": list(samples.shape), "dtype": str(samples.dtype), "sha256": sha256(samples),
            "robust": {"quantum": quantum, "tie": tie, "fragile": fragile, "sha256": robust_digest(samples, quantum, fragile)},
        })
    return rows


def _decode_with_float64(data: bytes, width: int, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, int]:
    """The decoded samples, the decode's values before rounding (float32), and the same values
    evaluated in float64 (the grid's features are exact float32 by the annex; the MLP and the
    inverse transform in float64), in the samples' order. Pointwise transforms only."""
    import torch

    from nfcodec import container
    from nfcodec.decoding import Decoder

    nff = container.read(data, strict=True)
    decoder = Decoder(nff, 1.0, options)
    decoder.load(nff, width)
    mlp = decoder.field.mlp
    if decoder.transform.moves_positions:
        raise SystemExit("real vectors use pointwise transforms (the float64 check follows samples in place)")
    exact: list[np.ndarray] = []
    single: list[np.ndarray] = []
    forward = mlp.forward

    def both(h: torch.Tensor, stage: int) -> torch.Tensor:
        with torch.no_grad():
            wide = mlp.config.widths[stage - 1]
            x = h.double()
            for i, weight in enumerate(mlp.weights):
                x = torch.relu(x @ weight[:wide, : mlp._columns(i, stage)].double().T)
            exact.append((x @ mlp.out_w[:, :wide].double().T + mlp.out_bias.double()).numpy())
        out = forward(h, stage)
        single.append(out.numpy())
        return out

    mlp.forward = both
    try:
        samples = decoder.render(width)
    finally:
        del mlp.forward
    values = decoder.transform.inverse(np.concatenate(exact)).reshape(samples.shape)
    values32 = decoder.transform.inverse(np.concatenate(single)).astype(np.float64).reshape(samples.shape)
    peak = 2 ** int(decoder.header.signal.get("bit_depth", 8)) - 1
    return samples, values32, values, decoder.header.modality, peak


# ---- the script -----------------------------------------------------------------------------


def write() -> None:
    import numpy
    import torch

    import nfcodec

    manifest = {
        "description": "Real .nff files that nfc encode made from the bundled samples, and what each decodes to at every "
                       "width: shape, dtype and SHA-256 of the decoded samples, and the robust digest that leaves out the "
                       "samples within `tie` of a rounding boundary (see make_real_vectors.py). Checked by tests/test_real_vectors.py.",
        "generator": "formats/vectors/make_real_vectors.py",
        "made_with": {"nfcodec": nfcodec.__version__, "torch": torch.__version__, "numpy": numpy.__version__},
        "vectors": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        OUT.mkdir(exist_ok=True)
        for vector in sources(Path(tmp)):
            out = OUT / vector["file"]
            encode(vector, out)
            data = out.read_bytes()
            options = vector.get("decode", {})
            manifest["vectors"].append({
                "file": vector["file"], "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "covers": vector["covers"],
                "source": f"samples/{Path(vector['input']).name}" if Path(vector["input"]).parent == SAMPLES else _derived(vector["input"]),
                "encode": vector["encode"], "decode": options, "widths": expected(data, options),
            })
            print(f"{vector['file']}: {len(data)} bytes, {len(manifest['vectors'][-1]['widths'])} widths")
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")


def _derived(path: Path) -> str:
    return {"kodim23_crop.png": "samples/kodim23.png rows 200:224, columns 300:332",
            "kodim23_grey16.png": "samples/kodim23.png rows 180:212, columns 420:452, luma (0.299, 0.587, 0.114) rounded, x 257 (16 bits)",
            "kodim23_64.png": "samples/kodim23.png rows 224:288, columns 352:416"}[Path(path).name]


def check() -> int:
    manifest = json.loads(MANIFEST.read_text())
    bad = 0
    for vector in manifest["vectors"]:
        data = (OUT / vector["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != vector["sha256"]:
            print(f"{vector['file']}: the file differs from the manifest's")
            bad += 1
            continue
        for row in vector["widths"]:
            samples = decoded_samples(data, row["width"], vector["decode"])
            robust = row["robust"]
            same = robust_digest(samples, robust["quantum"], robust["fragile"]) == robust["sha256"]
            exact = sha256(samples) == row["sha256"]
            print(f"{vector['file']} width {row['width']}: {'ok' if same else 'DIFFERS'}{'' if exact or not same else ' (a fragile sample rounds the other way here)'}")
            bad += not same
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="decode the committed files and compare with the manifest")
    args = parser.parse_args()
    from nfcodec.threads import configure_threads

    configure_threads(1)
    if args.check:
        return check()
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
