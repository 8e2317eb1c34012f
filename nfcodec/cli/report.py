"""`nfc report`: classic codecs on a batch's inputs, rate-distortion plots and report.html."""
from __future__ import annotations

import click

from .common import json_option, print_json


@click.command("report")
@click.argument("outdirs", metavar="OUTDIR...", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True))
@click.option("-o", "--output", "destination", type=click.Path(file_okay=False),
              help="Folder for the plots, compare.json and report.html [default: the first OUTDIR].")
@click.option("--codecs", metavar="NAME[,NAME...]", help="Only these classic codecs (e.g. jpeg,webp) [default: every one of each modality].")
@click.option("-q", "--quiet", is_flag=True, help="No progress output on stderr.")
@json_option
def report_command(outdirs, destination, codecs, quiet, as_json):
    """Compare batches made by `nfc batch` with classic codecs, and draw them.

    The inputs of the first OUTDIR go through the classic codecs of their modality at several
    qualities (JPEG, WebP, AVIF, JPEG XL for images; x264, x265, SVT-AV1, VVC for clips; Draco
    for meshes), measured exactly as our stages are. Written beside the report: rd_<modality>
    (rate-distortion: one curve per OUTDIR given, every decodable width marked, one per classic
    codec) and stages_<modality> (each input's quality per width), as PNG and SVG, compare.json
    (the classic codecs' measurements, reused by later runs) and report.html.

    Several OUTDIRs are several presets of the same inputs, e.g. a default batch and a --bpp
    0.5 one, drawn side by side.

    Example:

        nfc batch ../shared/data/kodak -o kodak && nfc report kodak
    """
    from pathlib import Path

    from ..baselines import BASELINES
    from ..batch.compare import make_report
    from ..errors import UsageError

    names = [c.strip() for c in codecs.split(",") if c.strip()] if codecs else None
    unknown = sorted(set(names or ()) - set(BASELINES))
    if unknown:
        raise UsageError(f"unknown codec {', '.join(unknown)} (known: {', '.join(BASELINES)})")
    target = Path(destination) if destination else Path(outdirs[0])
    target.mkdir(parents=True, exist_ok=True)
    page = make_report([Path(d) for d in outdirs], target, names, show_progress=not quiet)
    if as_json:
        print_json({"output": str(target), "files": [str(f) for f in page.files], "skipped": page.skipped,
                    "curves": {m: [{"label": c.label, "kind": c.kind, "codec": c.codec, "points": c.points, "notes": c.notes, "inputs": c.inputs}
                                   for c in curves] for m, curves in page.curves.items()}})
    else:
        click.echo(f"{target / 'report.html'}: {len(page.files)} files" + (f"; not run: {', '.join(sorted(page.skipped))}" if page.skipped else ""))
