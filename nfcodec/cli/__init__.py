"""The `nfc` command: thin click commands over the nfcodec Python API (one module per command)."""
from __future__ import annotations

from ..threads import set_wait_policy

set_wait_policy()  # before anything below can load numpy's, torch's or numba's thread pools

import click  # noqa: E402

from .. import __version__  # noqa: E402
from ..runtime import tune_allocator  # noqa: E402
from .batch import batch_command  # noqa: E402
from .common import NfcGroup  # noqa: E402
from .decode import decode_command  # noqa: E402
from .encode import encode_command  # noqa: E402
from .info import info_command  # noqa: E402
from .report import report_command  # noqa: E402
from .search import search_command  # noqa: E402


@click.group(cls=NfcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nfc")
@click.option("--traceback", is_flag=True, hidden=True, help="Re-raise errors (for debugging).")
@click.pass_context
def main(ctx: click.Context, traceback: bool) -> None:
    """nfcodec: store images and video clips as progressive neural fields in streamable .nff files.

    \b
    nfc encode img.png -o img.nff         fit a field, write the file
    nfc encode clip.mp4 --frames 0:48     a clip (also Y4M, raw UVG .yuv)
    nfc decode clip.nff -o out.mp4        frame by frame (also .y4m, .yuv, --frames-dir)
    nfc decode img.nff --width 1 -o p.png  decode a preview from the first stage
    nfc decode https://host/img.nff --width 1   the same over HTTP: header + stage 1 only
    nfc info img.nff                      header and chunk table
    nfc search img.png                    which transform fits fastest (no encode)
    nfc batch photos/ clips/ -o out       a whole folder, resumable, with report.json / .csv
    nfc report out                        classic codecs on the same inputs, plots, report.html
    """
    tune_allocator()  # reuse freed tensor memory instead of re-faulting it every step
    ctx.obj = {"traceback": traceback}


main.add_command(encode_command)
main.add_command(decode_command)
main.add_command(info_command)
main.add_command(search_command)
main.add_command(batch_command)
main.add_command(report_command)
