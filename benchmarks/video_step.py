"""A clip's training step per point against an image's, in the same run (issue 12, B2: "a
training step per point no slower than the image step's").

All three train `nfc encode`'s default grid field (16 levels, F=2, T=2^14, MLP 1 x 64, bf16
autocast where the CPU has it, Adam) on about the same number of points, each as the encoder
feeds it:
  image    the pixel centres of a 512x512 image, a declared 2-D lattice (full batch);
  frames   a clip's batch as FrameSampler makes it: 8 consecutive frames x a band of rows x all columns of a
           640x360 clip of 24 frames, a declared 3-D lattice (separable trilinear kernels),
           with the clip's own time resolution;
  scattered the same clip's field on as many random (t, y, x) points (the general kernels:
           what a batch that is not a lattice costs).
Also the FrameSampler's own cost of making a batch from the bundled clip resized to 640x360
(frames read from its temporary store, transformed, laid out). Median of interleaved repeats.

    python benchmarks/video_step.py --repeats 7
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, markdown_table, run_metadata, setup_runtime, time_interleaved, write_json  # noqa: E402

from nfcodec.codec import EncodeConfig  # noqa: E402
from nfcodec.fields.base import Lattice  # noqa: E402
from nfcodec.modalities.video import VIDEO, VideoGeometry  # noqa: E402
from nfcodec.presets import build_field  # noqa: E402
from nfcodec.train import Batch, autocast_dtype, make_optimiser, mse_loss  # noqa: E402
from nfcodec.transforms import fit_transform  # noqa: E402

CLIP = REPO / "samples" / "carphone_24f.mp4"
CLIP_SHAPE = (24, 360, 640)
IMAGE_SIDE = 512
FRAMES_PER_BATCH = 8


def training_step(field: Any, batch: Batch) -> Callable[[], None]:
    """One encoder step on `batch`: autocast forward, MSE, backward, freezing mask, Adam."""
    field.grow(1, torch.Generator().manual_seed(0))
    optimiser = make_optimiser(field, field.trainable_parameters(1), field.default_lr)
    amp = autocast_dtype(field, batch.coords.device, "auto")

    def step() -> None:
        optimiser.zero_grad(set_to_none=False)
        with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
            loss = mse_loss(field, batch, 1)
        loss.backward()
        field.mask_gradients(1)
        optimiser.step()

    return step


def batches() -> dict[str, tuple[Any, Batch]]:
    g = torch.Generator().manual_seed(0)
    config = EncodeConfig(arch="grid", stages=1)
    image = Lattice.sample_centres((IMAGE_SIDE, IMAGE_SIDE))
    image_field = build_field(config, image.shape, 3)
    t, h, w = CLIP_SHAPE
    resolution = VIDEO.domain(VideoGeometry(t, h, w, 30.0)).resolution  # the clip's own time resolution
    rows = image.num_points // (FRAMES_PER_BATCH * w)
    centres = Lattice.sample_centres(CLIP_SHAPE)
    t0, r0 = (t - FRAMES_PER_BATCH) // 2, (h - rows) // 2  # a window mid-clip, a band mid-frame
    frames = Lattice((centres.axes[0][t0 : t0 + FRAMES_PER_BATCH], centres.axes[1][r0 : r0 + rows], centres.axes[2]))
    n = frames.num_points
    scattered = torch.rand(n, 3, generator=g)

    def target(points: int) -> torch.Tensor:
        return torch.rand(points, 3, generator=g)

    return {
        "image": (image_field, Batch(torch.from_numpy(image.coords()), target(image.num_points), image)),
        "frames": (build_field(config, CLIP_SHAPE, 3, resolution), Batch(torch.from_numpy(frames.coords()), target(n), frames)),
        "scattered": (build_field(config, CLIP_SHAPE, 3, resolution), Batch(scattered, target(n))),
    }


def sampler_step() -> tuple[Callable[[], Any], int]:
    signal = VIDEO.read(CLIP, {"resize": f"{CLIP_SHAPE[2]}x{CLIP_SHAPE[1]}"})
    identity = fit_transform("identity", VIDEO.search_lattice(signal), 0)
    points = IMAGE_SIDE * IMAGE_SIDE
    sampler = VIDEO.sampler(signal, identity, points, torch.device("cpu"))
    g = torch.Generator().manual_seed(1)
    return (lambda: sampler.batch(g)), sampler.frames_per_step * sampler.rows_per_step * CLIP_SHAPE[2]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=RESULTS / "video_step.json")
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    cases = batches()
    steps = {name: training_step(field, batch) for name, (field, batch) in cases.items()}
    make_batch, batch_points = sampler_step()
    timed = time_interleaved({**steps, "sampler": make_batch}, args.repeats)
    points = {name: batch.coords.shape[0] for name, (_, batch) in cases.items()} | {"sampler": batch_points}
    per_point = {name: timed[name][0] / points[name] for name in timed}
    image_us = per_point["image"] * 1e6
    rows, results = [], {}
    for name in ("image", "frames", "scattered", "sampler"):
        us = per_point[name] * 1e6
        results[name] = {"points": points[name], "seconds": timed[name][0], "us_per_point": us, "vs_image_step": us / image_us}
        rows.append([name, points[name], f"{timed[name][0]:.3f}", f"{us:.3f}", f"**{us / image_us:.2f}**"])
    clip_total = (per_point["frames"] + per_point["sampler"]) / per_point["image"]
    results["frames_with_sampler_vs_image_step"] = clip_total
    table = markdown_table(["batch", "points", "s/step", "us/point", "per point vs image step"], rows)
    print(table)
    print(f"\nclip step incl. making its batch: {clip_total:.2f}x the image step per point (target <= 1.0)")
    out = {"benchmark": "video_step", **run_metadata(argv), "clip_shape": list(CLIP_SHAPE), "image_side": IMAGE_SIDE,
           "results": results, "table_markdown": table}
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
