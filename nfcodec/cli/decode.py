"""`nfc decode`: reconstruct a signal from a `.nff` file, a truncated prefix of one, or a URL."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click

from .common import json_option, threads_option, note, print_json


def default_output(source: str, is_url: bool) -> Path:
    if is_url:  # the URL's file name, in the current directory
        name = Path(urlsplit(source).path).name or "download.nff"
        return Path(name).with_suffix(".decoded.png")
    return Path(source).with_suffix(".decoded.png")


@click.command("decode")
@click.argument("source", metavar="FILE.nff|URL")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output PNG [default: FILE.decoded.png, for a URL in the current directory].")
@click.option("--width", type=click.IntRange(1), help="Decode the first K stages [default: all stages present].")
@click.option("--strict", is_flag=True, help="Refuse truncated files instead of decoding their complete stages.")
@click.option("--scale", type=float, default=1.0, show_default=True, metavar="S",
              help="Decode at S times the stored resolution (not for files whose transform permutes pixels).")
@click.option("--progressive", is_flag=True,
              help="Rewrite the output after each stage arrives (a URL, or a file still being written).")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
              help="Seconds to wait for a server, or (--progressive on a file) for the file to grow.")
@click.option("--retries", type=click.IntRange(0, 20), default=4, show_default=True, help="Retries after a failed or cut request (URLs).")
@threads_option
@json_option
def decode_command(source, output, width, strict, scale, progressive, timeout, retries, as_json):
    """Decode FILE.nff (or an http(s) URL) to a PNG at the input's bit depth.

    A truncated file (a partial download) decodes at the largest complete width, with a
    note on stderr; --strict refuses it instead. --scale 2 renders the field on a grid twice
    as fine (files with a pixel-permuting transform refuse it). An existing output is
    replaced atomically once decoding has succeeded; an output that is the input is refused.

    A URL is read with HTTP Range requests: one for the header, one for exactly the stages
    wanted (servers that ignore Range, redirects, drops and timeouts are handled; --json
    reports bytes_fetched and requests). --progressive writes the output after every stage
    as it arrives, replacing the file atomically each time.

    Example:

        nfc decode parrots.nff --width 2 -o preview.png

        nfc decode https://example.org/parrots.nff --width 1 --json

        nfc decode https://example.org/parrots.nff --progressive -o live.png
    """
    from ..fsutil import check_output_path
    from ..remote import is_url

    if strict and progressive:
        from ..errors import UsageError

        raise UsageError("--strict needs the whole file before decoding; it cannot be combined with --progressive")
    remote = is_url(source)
    out = Path(output) if output else default_output(source, remote)
    check_output_path(out, inputs=[] if remote else [source])

    def write_width(rendered) -> None:
        rendered.write(out)
        if not as_json:
            note(f"width {rendered.width}: wrote {out}")

    stats = None
    if remote:
        from ..streaming import decode_url

        result, stats = decode_url(source, width=width, scale=scale, timeout=timeout, retries=retries,
                                   on_width=write_width if progressive else None, strict=strict)
        if not progressive:
            result.write(out)
        result.output = str(out)
    elif progressive:
        from ..streaming import decode_growing_file

        result = decode_growing_file(source, width=width, scale=scale, idle_timeout=timeout, on_width=write_width)
        result.output = str(out)
    else:
        from ..codec import decode

        result = decode(source, out, width=width, strict=strict, scale=scale)
    if result.note:
        note(result.note)
    if as_json:
        extra = {} if stats is None else {"bytes_fetched": stats.bytes_fetched, "requests": stats.requests, "retries": stats.retries}
        print_json({**result.to_json(), **extra})
    else:
        fetched = "" if stats is None else f", {stats.bytes_fetched} bytes in {stats.requests} request(s)"
        click.echo(f"{result.output}: width {result.width} of {result.stages_total}" + ("" if result.complete else " (truncated file)") + fetched)
