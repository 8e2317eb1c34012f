"""`nfc info`: the header and chunk table of a `.nff` file, without decoding parameters."""
from __future__ import annotations

import click

from .common import deadline_option, json_option, print_json


@click.command("info")
@click.argument("nff_path", metavar="FILE.nff|URL")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True, help="Seconds to wait for a server (URLs).")
@click.option("--retries", type=click.IntRange(0, 20), default=4, show_default=True, help="Retries after a failed request (URLs).")
@deadline_option
@json_option
def info_command(nff_path, timeout, retries, deadline, as_json):
    """Show the header summary and the chunk table of FILE.nff (works on truncated files).

    For an http(s) URL only the header is fetched: one Range request for typical files.

    Example:

        nfc info parrots.nff --json

        nfc info https://example.org/parrots.nff
    """
    from ..remote import is_url

    if is_url(nff_path):
        from ..streaming import info_url

        summary, stats = info_url(nff_path, timeout=timeout, retries=retries, deadline=deadline)
        summary.update(bytes_fetched=stats.bytes_fetched, requests=stats.requests)
    else:
        from ..codec import info, read_nff_bytes

        summary = info(read_nff_bytes(nff_path))
    if as_json:
        print_json(summary)
        return
    sig = summary["signal"]
    described = ", ".join(f"{key} {value}" for key, value in sig.items() if key not in ("schema", "schema_version"))
    click.echo(f"NFF {summary['version']}  {summary['modality']}  {described}")
    click.echo(f"field: {summary['field']['arch']} {summary['field']['config']}  transform: {summary['transform']['name']}")
    if "requests" in summary:  # a URL: only the header was fetched, by design
        state = f"header fetched: {summary['bytes_fetched']} bytes in {summary['requests']} request(s)"
    else:
        state = "complete" if summary["complete"] else f"truncated ({summary['bytes_present']} of {summary['file_size']} bytes)"
    click.echo(f"{summary['file_size']} bytes, {len(summary['stages'])} stages, {summary['widths_available']} decodable, {state}")
    click.echo(f"{'type':<6}{'offset':>10}{'length':>10}{'stage':>7}{'width':>7}{'params':>10}  present")
    by_offset = {s["offset"]: s for s in summary["stages"]}
    for c in summary["chunks"]:
        s = by_offset.get(c["offset"])
        stage = (f"{s['index']:>7}{s['width']:>7}{s['params']:>10}") if s else f"{'':>7}{'':>7}{'':>10}"
        click.echo(f"{c['type']:<6}{c['offset']:>10}{c['length']:>10}{stage}  {'yes' if c['present'] else 'no'}")
