"""The options that shape an encode, shared by `nfc encode` and `nfc batch`, and the
EncodeConfig they make."""
from __future__ import annotations

import re
from typing import Any, Callable

import click

from ..transforms.catalogue import NONE_ALIAS, preset_names


def _widths(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        widths = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("expected comma-separated integers, e.g. 30,69,110,151") from None
    if any(w <= 0 for w in widths) or any(b <= a for a, b in zip(widths, widths[1:])):
        raise click.BadParameter("widths must be positive and strictly increasing")
    return widths


def _transform(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    # Validated against the catalogue before any work: an unknown name is a one-line
    # UsageError that lists the known ones.
    from ..search import parse_transform_choice

    parse_transform_choice(value)
    return value.strip()


_FRAME_SIZE = re.compile(r"[0-9]+x[0-9]+", re.IGNORECASE)



_OPTIONS: list[Callable[[Any], Any]] = [
    click.option("--stages", type=click.IntRange(1, 64), help="Number of progressive stages (decodable widths) [default: 4; 2 with a rate or quality goal]."),
    click.option("--widths", callback=_widths, help="Explicit stage widths (overrides --stages): SIREN hidden widths, e.g. 30,69,110,151; grid levels "
                       "used by each stage, e.g. 10,12,14,16 (quality layers: every stage reaches fine levels; "
                       "the default 4,8,12,16 is coarse-to-fine, for small previews)."),
    click.option("--steps", type=click.IntRange(1), help="Training steps per stage [default: grid 150, siren 300]."),
    click.option("--arch", type=click.Choice(["grid", "siren"]), default="grid", show_default=True,
                  help="Field architecture: grid (multiresolution hash grid + small MLP, fast) or siren."),
    click.option("--lr", type=click.FloatRange(min=0, max=10, min_open=True), help="Peak learning rate [default: grid: searched on a crop with --transform auto (1e-2 otherwise); siren 1e-3]. "
                       "Given, it is kept and the search compares transforms only."),
    click.option("--batch-size", type=click.IntRange(1), default=1 << 19, show_default=True, help="Points per step (full batch if the signal is smaller)."),
    click.option("--dtype", type=click.Choice(["f32", "f16", "q16", "q8"]),
                  help="Storage precision of every tensor [default: grid tables q8, weights f16; SIREN f16]."),
    click.option("--target-psnr", type=float, help="Stop each stage early once its training PSNR reaches this (dB); no effect with a rate goal."),
    click.option("--bpp", type=click.FloatRange(min=0, min_open=True), help="Rate goal: the file's bits per pixel (per pixel per frame for a clip). "
                  "Any goal makes an entropy-coded file whose field is sized and quantised for it; the file lands within 5% below the goal."),
    click.option("--size", "size", metavar="BYTES", help="Rate goal: the file's size, e.g. 20KB, 1.5MB, 64KiB or 30000 (bytes)."),
    click.option("--psnr", type=float, help="Quality goal: the smallest file whose decoded PSNR reaches this (dB; images and clips)."),
    click.option("--stage-bpp", metavar="R1,R2,...", help="Rate goal per stage: the bits per pixel of the file through each stage "
                  "(one per stage, increasing), e.g. 0.05,0.15,0.5 with --stages 3: a 0.05 bpp preview inside a 0.5 bpp file."),
    click.option("--effort", type=click.Choice(["fast", "default", "slow"]), default="default", show_default=True,
                  help="With a goal: training steps (0.4x, 1x, 2.5x of 800 for one stage; K stages take 1/sqrt(K) of that each), "
                       "trading encode time for quality at the same size, like cwebp -m."),
    click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
                  help="Training arithmetic (auto: bf16 steps where the CPU/GPU has native bf16 and the field allows it)."),
    click.option("--device", default="auto", show_default=True, help="Training device: auto, cpu, cuda, cuda:N."),
    click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Seed for initialisation and sampling (same seed, same file)."),
    click.option("--transform", "transform", default="auto", show_default=True, callback=_transform, metavar="auto|none|NAME[,NAME...]",
                  help="Data transform the field is fitted to (inverted when decoding). auto: search every preset "
                       "(and the learning rate, unless --lr is given) on a crop first; a comma list: search those; "
                       f"one name: use it. Presets: {NONE_ALIAS} (identity), {', '.join(n for n in preset_names() if n != 'identity')}."),
    click.option("--keep-interpolation", is_flag=True, help="Search only transforms that allow decoding at another size (no permutations)."),
    click.option("--probe-side", type=click.IntRange(16, 1024), default=128, show_default=True, help="Side of the centre crop the search probes train on."),
    click.option("--grow", type=click.Choice(["spectral", "temporal", "spatial"]), default="spectral", show_default=True,
                  help="How stages grow: spectral (finer levels, wider MLP; each stage covers the whole signal); for clips, "
                       "temporal (stage k covers the first k/K of the frames; width k decodes exactly those); for images and "
                       "clips, spatial (stage k covers the first k/K of the columns; width k decodes that strip). Partial "
                       "stages admit pointwise transforms only."),
    click.option("--frames", "frames", metavar="A:B", help="Clips: encode frames A..B-1 (0-based; A: or :B also work)."),
    click.option("--resize", metavar="WxH", help="Clips: scale every frame to WxH first (even sides)."),
    click.option("--frame-size", "raw_size", metavar="WxH", help="Raw .yuv clips: the frame size [default: from a UVG-style name, e.g. Clip_1920x1080_120fps_420_8bit_YUV.yuv]. "
                  "(--size WxH still means this.)"),
    click.option("--fps", type=click.FloatRange(0, 1000, min_open=True), help="Raw .yuv clips: the frame rate [default: from the name, else 25]."),
]


def encode_options(f: Any) -> Any:
    """Apply every encode option to a click command (its keyword arguments: see config_from_options)."""
    for option in reversed(_OPTIONS):
        f = option(f)
    return f


def config_from_options(options: dict[str, Any]) -> Any:
    """The EncodeConfig the parsed encode options ask for."""
    from ..codec import EncodeConfig

    o = dict(options)
    size, raw_size = o.pop("size"), o.pop("raw_size")
    if size is not None and _FRAME_SIZE.fullmatch(size.strip()):  # the old spelling of --frame-size
        raw_size, size = raw_size or size.strip(), None
    input_options = {k: v for k, v in {"frames": o.pop("frames"), "resize": o.pop("resize"), "size": raw_size,
                                        "fps": o.pop("fps")}.items() if v is not None}
    widths = o["widths"]
    o["stages"] = len(widths) if widths else o["stages"]  # None: the default for the options given
    return EncodeConfig(size=size, input_options=input_options, **o)
