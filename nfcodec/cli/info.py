"""`nfc info`: the header and chunk table of a `.nff` file, without decoding parameters."""
from __future__ import annotations

import click

from .common import json_option, print_json


@click.command("info")
@click.argument("nff_path", metavar="FILE.nff", type=click.Path(dir_okay=False))
@json_option
def info_command(nff_path, as_json):
    """Show the header summary and the chunk table of FILE.nff (works on truncated files).

    Example:

        nfc info parrots.nff --json
    """
    from ..codec import info, read_nff_bytes

    data = read_nff_bytes(nff_path)
    summary = info(data)
    if as_json:
        print_json(summary)
        return
    sig = summary["signal"]
    click.echo(f"NFF {summary['version']}  {summary['modality']}  {sig.get('shape')} x {sig.get('channels')} ch, {sig.get('bit_depth')}-bit")
    click.echo(f"field: {summary['field']['arch']} {summary['field']['config']}  transform: {summary['transform']['name']}")
    state = "complete" if summary["complete"] else f"truncated ({summary['bytes_present']} of {summary['file_size']} bytes)"
    click.echo(f"{summary['file_size']} bytes, {len(summary['stages'])} stages, {summary['widths_available']} decodable, {state}")
    click.echo(f"{'type':<6}{'offset':>10}{'length':>10}{'stage':>7}{'width':>7}{'params':>10}  present")
    by_offset = {s["offset"]: s for s in summary["stages"]}
    for c in summary["chunks"]:
        s = by_offset.get(c["offset"])
        stage = (f"{s['index']:>7}{s['width']:>7}{s['params']:>10}") if s else f"{'':>7}{'':>7}{'':>10}"
        click.echo(f"{c['type']:<6}{c['offset']:>10}{c['length']:>10}{stage}  {'yes' if c['present'] else 'no'}")
