"""`nfc decode`: reconstruct a signal from a `.nff` file, a truncated prefix of one, or a URL."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click

from .common import deadline_option, json_option, note, print_json, threads_option


def output_stem(source: str, is_url: bool) -> Path:
    """FILE (for a URL: its file name, in the current directory); the suffix comes from the
    file's modality (FILE.decoded.png for an image, .decoded.mp4 for a clip)."""
    if is_url:
        return Path(Path(urlsplit(source).path).name or "download.nff")
    return Path(source)


@click.command("decode")
@click.argument("source", metavar="FILE.nff|URL")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Output: an image writes PNG; a clip .mp4, .y4m or .yuv [default: FILE.decoded.png / .decoded.mp4, for a URL in the current directory].")
@click.option("--width", type=click.IntRange(1), help="Decode the first K stages [default: all stages present].")
@click.option("--strict", is_flag=True, help="Refuse truncated files instead of decoding their complete stages.")
@click.option("--scale", type=float, default=1.0, show_default=True, metavar="S",
              help="Decode at S times the stored resolution (not for files whose transform permutes pixels).")
@click.option("--progressive", is_flag=True,
              help="Rewrite the output after each stage arrives (a URL, or a file still being written).")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
              help="Seconds to wait for a server, or (--progressive on a file) for the file to grow.")
@click.option("--retries", type=click.IntRange(0, 20), default=4, show_default=True, help="Retries after a failed or cut request (URLs).")
@deadline_option
@click.option("--frames-dir", type=click.Path(file_okay=False), help="Clips: write PNG frames (frame_000001.png, ...) into this new folder instead.")
@click.option("--crf", type=click.IntRange(0, 51), help="Clips to .mp4: libx264 quality (0 best, 51 worst) [default: 17, yuv420p].")
@click.option("--lossless", is_flag=True, help="Clips to .mp4: lossless libx264rgb (qp 0, RGB) instead of --crf.")
@click.option("--resolution", type=click.IntRange(2, 2048), metavar="N",
              help="Shapes: marching cubes on an N^3 lattice [default: 256; peak memory grows with N^2, not N^3].")
@click.option("--sdf-grid", type=click.Path(dir_okay=False), metavar="FILE.npy",
              help="Shapes: write the sampled signed distances (N^3 float32, x y z order) instead of a mesh.")
@threads_option
@json_option
def decode_command(source, output, width, strict, scale, progressive, timeout, retries, deadline, frames_dir, crf, lossless,
                   resolution, sdf_grid, as_json):
    """Decode FILE.nff (or an http(s) URL): an image to a PNG at its bit depth, a clip to
    MP4 / Y4M / raw YUV 4:2:0 or PNG frames, rendered frame by frame (quality is measured on
    the decoded frames, before any lossy output codec; the output line says which codec), a
    shape to a mesh (.ply, .obj, .stl, .off) by marching cubes, slab by slab.

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

        nfc decode bunny.nff --width 2 --resolution 384 -o bunny_w2.ply
    """
    from ..decoding import check_write, default_output
    from ..fsutil import check_output_path
    from ..remote import is_url

    if strict and progressive:
        from ..errors import UsageError

        raise UsageError("--strict needs the whole file before decoding; it cannot be combined with --progressive")
    if sdf_grid:
        if output:
            from ..errors import UsageError

            raise UsageError("--sdf-grid FILE is the output: give it or -o, not both")
        output = sdf_grid
    options = {k: v for k, v in {"frames_dir": frames_dir, "crf": crf, "lossless": lossless, "resolution": resolution,
                                 "sdf_grid": bool(sdf_grid)}.items() if v not in (None, False)}
    remote = is_url(source)
    inputs = [] if remote else [source]
    if output:
        check_output_path(output, inputs=inputs)  # a missing folder or the input itself: before any fetching
    chosen: dict[str, Path] = {}

    def output_for(result) -> Path:
        """The output once the file's modality is known (its default suffix, its formats)."""
        if "path" not in chosen:
            path = Path(output) if output else default_output(output_stem(source, remote), result.decoder.modality)
            check_output_path(path, inputs=inputs)
            check_write(result.decoder.modality, path, options)
            chosen["path"] = path
        return chosen["path"]

    def write_width(rendered) -> None:
        path = output_for(rendered)
        rendered.write(path, options)
        if not as_json:
            note(f"width {rendered.width}: wrote {path}")

    stats = None
    if remote:
        from ..streaming import decode_url

        result, stats = decode_url(source, width=width, scale=scale, timeout=timeout, retries=retries,
                                   on_width=write_width if progressive else None, strict=strict, options=options,
                                   deadline=deadline)
        if not progressive:
            result.write(output_for(result), options)
        result.output = str(options.get("frames_dir") or output_for(result))
    elif progressive:
        from ..streaming import decode_growing_file

        result = decode_growing_file(source, width=width, scale=scale, idle_timeout=timeout, on_width=write_width, options=options)
        result.output = str(options.get("frames_dir") or output_for(result))
    else:
        from ..codec import decode

        result = decode(source, output, width=width, strict=strict, scale=scale, options=options)
    if result.note:
        note(result.note)
    if as_json:
        extra = {} if stats is None else {"bytes_fetched": stats.bytes_fetched, "requests": stats.requests, "retries": stats.retries}
        print_json({**result.to_json(), **extra})
    else:
        fetched = "" if stats is None else f", {stats.bytes_fetched} bytes in {stats.requests} request(s)"
        how = f" ({result.written_as})" if result.written_as else ""
        click.echo(f"{result.output}{how}: width {result.width} of {result.stages_total}"
                   + ("" if result.complete else " (truncated file)") + fetched)
