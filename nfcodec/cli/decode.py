"""`nfc decode`: reconstruct a signal from a `.nff` file (or a truncated prefix of one)."""
from __future__ import annotations

import click

from .common import json_option, note, print_json


@click.command("decode")
@click.argument("nff_path", metavar="FILE.nff", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output PNG [default: FILE.decoded.png].")
@click.option("--width", type=click.IntRange(1), help="Decode the first K stages [default: all stages present].")
@click.option("--strict", is_flag=True, help="Refuse truncated files instead of decoding their complete stages.")
@click.option("--scale", type=float, default=1.0, show_default=True, metavar="S",
              help="Decode at S times the stored resolution (not for files whose transform permutes pixels).")
@json_option
def decode_command(nff_path, output, width, strict, scale, as_json):
    """Decode FILE.nff to a PNG at the input's bit depth.

    A truncated file (a partial download) decodes at the largest complete width, with a
    note on stderr; --strict refuses it instead. --scale 2 renders the field on a grid twice
    as fine (files with a pixel-permuting transform refuse it).

    Example:

        nfc decode parrots.nff --width 2 -o preview.png
    """
    from ..codec import decode

    result = decode(nff_path, output, width=width, strict=strict, scale=scale)
    if result.note:
        note(result.note)
    if as_json:
        print_json(result.to_json())
    else:
        click.echo(f"{result.output}: width {result.width} of {result.stages_total}" + ("" if result.complete else " (truncated file)"))
