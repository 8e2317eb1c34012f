"""`nfc batch`: compress many inputs (images, clips, meshes, mixed) into a folder with reports."""
from __future__ import annotations

import click

from ..errors import ExitStatus
from .common import json_option, note, print_json
from .encode_options import config_from_options, encode_options


def _scheduler(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None or value == "local-dask" or "://" in value:
        return value
    raise click.BadParameter("expected local-dask or a scheduler address such as tcp://HOST:8786")


@click.command("batch")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False), metavar="OUTDIR",
              help="Folder for the .nff files (input paths mirrored), report.json, report.csv and summary.md; created if missing.")
@click.option("--workers", type=click.IntRange(1, 1024), help="Encodes at once [default: local: one per core; Dask: every task slot].")
@click.option("--threads", type=click.IntRange(1, 1024), metavar="N",
              help="Threads per worker [default: cores / workers, so workers x threads = cores; on a Dask cluster: each node's CPUs / its task slots].")
@click.option("--scheduler", callback=_scheduler, metavar="local-dask|tcp://HOST:PORT",
              help="Run the jobs on Dask distributed: a cluster started here on loopback (local-dask), or an existing scheduler "
                   "whose workers can read the inputs at the same paths [default: a local process pool].")
@click.option("--compare", is_flag=True, help="Afterwards, run `nfc report OUTDIR`: classic codecs on the same inputs, plots and report.html.")
@encode_options
@click.option("-q", "--quiet", is_flag=True, help="No progress output on stderr.")
@json_option
def batch_command(inputs, outdir, workers, threads, scheduler, compare, quiet, as_json, **options):
    """Encode every INPUT (files, folders searched recursively, glob patterns; images, clips and
    meshes may be mixed) into OUTDIR: one .nff per input, report.json / report.csv (per input:
    modality, transform, seconds, bytes, rate, quality per stage) and summary.md (the means).
    Every file a folder holds is an input (hidden files and .nff aside): one that is not an
    image, clip or mesh (a README, a checksum list) is reported as failed, so quote a glob
    such as 'kodak/*.png' to take only some.

    \b
    Resumable: a rerun skips every input whose .nff is complete and was made from the same
    input (content hash) and options; Ctrl-C or kill -9 leaves no partial file (outputs are
    written to a temporary name and renamed; a killed run's temporaries are removed by the
    next). One bad input is reported as failed and does not stop the others; the exit status
    is 1 when any input failed. Encode options apply to every input (--frames and --resize to
    clips only).

    \b
    Engines: by default a process pool sized to the machine; --scheduler local-dask or
    tcp://HOST:PORT runs the same jobs on Dask distributed (pip install 'nfcodec[dask]'):

    \b
        dask scheduler                      # on the head node: prints tcp://HOST:8786
        dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1   # on each node
        nfc batch /data/uvg -o /data/out --scheduler tcp://HOST:8786 --frames 0:120

    Example:

        nfc batch ../shared/data/kodak -o kodak_out --compare

        nfc batch 'photos/**/*.jpg' clip.mp4 bunny.obj -o out --bpp 0.5
    """
    from ..batch.runner import BatchConfig, run_batch

    if compare:  # before hours of encoding, not after
        from ..plots import require_matplotlib

        require_matplotlib()
    result = run_batch(list(inputs), outdir, config_from_options(options), BatchConfig(workers, threads, scheduler),
                       show_progress=not quiet)
    report = result.report
    if compare:
        from ..batch.compare import make_report

        make_report([result.outdir], result.outdir, show_progress=not quiet)
    if as_json:
        print_json({"output": str(result.outdir), "files": [str(p) for p in result.files], "summary": report["summary"], "run": report["run"]})
    else:
        s = report["summary"]
        click.echo(f"{result.outdir}: {s['ok']} of {s['inputs']} encoded ({result.encoded} now, {result.reused} reused), "
                   f"{s['failed']} failed; report.json, report.csv, summary.md" + (", report.html" if compare else ""))
    if result.failed:
        note(f"{result.failed} of {report['summary']['inputs']} inputs failed: see {result.outdir}/report.csv")
        click.get_current_context().exit(int(ExitStatus.DATA_ERROR))
