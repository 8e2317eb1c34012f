"""`nfc encode`: fit a progressive field to a signal and write a `.nff` file."""
from __future__ import annotations

import click

from .common import json_option, note, print_json, thread_settings, threads_option
from .encode_options import config_from_options, encode_options


@click.command("encode")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output .nff path [default: INPUT with .nff suffix].")
@encode_options
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Also write a PNG plot of PSNR per decodable width vs bytes.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output on stderr.")
@threads_option
@json_option
def encode_command(input_path, output, plot_path, quiet, as_json, **options):
    """Encode an image (PNG/JPEG, 8/16-bit, grey/RGB/alpha) or a clip (MP4 and what ffmpeg
    reads, Y4M, raw 8-bit YUV 4:2:0) into a progressive .nff file.

    Each stage widens the network; stage k's parameters go into their own chunk, so the
    first k stages decode on their own (width 1 is a preview).

    An existing output is replaced, atomically and only once the encode has succeeded; an
    output that is the input (by any name or link) is refused before any work. Warnings
    (a file larger than the raw pixels, very low quality, a tiny or constant image) go to
    stderr, and into --json as "warnings".

    A clip is read lazily (decoded once into a memory-mapped temporary file) and trained a few
    frames per step; its PSNR is RGB, per frame, averaged over frames, its bpp per pixel per frame.

    A mesh (OBJ, PLY, STL, OFF) becomes a signed distance field: stages are measured by
    marching cubes at 128^3 against the input (Chamfer-L1 in the Occupancy Networks form, shape
    in [-0.5, 0.5]^3; --json has every metric), the rate is in bits per input triangle.

    Without a goal the file uses the architecture's fixed storage (f16 / q8, zstd). With one
    (--bpp, --size, --psnr or --stage-bpp) the field is trained with quantisation and a rate
    term and its integer codes are entropy-coded; by default the stages double the file each
    time (a 4-stage file's preview takes 1/8 of it).

    Example:

        nfc encode samples/kodim23.png -o parrots.nff --stages 4 --steps 300

        nfc encode samples/kodim23.png --bpp 0.5

        nfc encode samples/kodim23.png --size 20KB --stages 1 --effort slow

        nfc encode clip.mp4 --frames 0:30 --resize 320x180

        nfc encode bunny.obj -o bunny.nff
    """
    from ..codec import encode
    from ..diagnostics import format_quality
    from ..progress import Progress

    config = config_from_options(options)
    if plot_path:  # fail before training, not after
        from ..fsutil import check_output_path
        from ..plots import require_matplotlib

        require_matplotlib()
        check_output_path(plot_path, inputs=[input_path] + ([output] if output else []))
    result = encode(input_path, output, config, Progress(enabled=not quiet))
    for line in result.warnings:
        note(f"warning: {line}")
    if plot_path:
        from ..plots import plot_width_quality

        plot_width_quality(result.stages, plot_path, title=f"{input_path} ({result.arch})")
    if as_json:
        print_json({**result.to_json(), "threads": thread_settings().to_json()})
    else:
        if result.rate_unit == "bpp":
            raw = f" (raw pixels: {result.raw_bpp:g} bpp)" if result.bpp > result.raw_bpp else ""
            rate = f"{result.bpp:.3f} bpp{raw}"
        else:
            rate = f"{result.rate:.3f} {result.rate_unit}"
        click.echo(f"{result.output}: {len(result.data)} bytes, {rate}, {result.seconds:.1f} s")
        if result.search:
            click.echo(f"  transform {result.transform_preset}, lr {result.search.lr:g}: {result.search.reason} "
                       f"(search {result.search.seconds:.1f} s; table: nfc info --json)")
        from ..modalities import modality

        headline = modality(result.modality).headline
        click.echo(f"  {headline}: {result.conventions.get(headline, '')}")
        for s in result.stages:
            click.echo(f"  width {s.index} (stage width {s.width}): {s.params} params, {s.prefix_bytes} bytes, "
                       f"{format_quality(s.metrics, headline)}")
