"""`nfc search`: run only the transform search on an image and print its table."""
from __future__ import annotations

import click

from .common import json_option, threads_option, print_json


@click.command("search")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("--arch", type=click.Choice(["grid", "siren"]), default="grid", show_default=True, help="Field the probes train.")
@click.option(
    "--transform", "transform_text", default="auto", show_default=True, metavar="auto|NAME[,NAME...]",
    help="Candidates: 'auto' (every preset, pruned by the predictor) or a comma list (the identity is always added).",
)
@click.option("--keep-interpolation", is_flag=True, help="Exclude transforms that forbid decoding at another size (permutations).")
@click.option("--probe-side", type=click.IntRange(16, 1024), default=128, show_default=True, help="Side of the centre crop probes train on.")
@click.option("--probe-all", is_flag=True, help="Probe every distinct candidate, not only those the predictor expects to beat the identity.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@threads_option
@json_option
def search_command(input_path, arch, transform_text, keep_interpolation, probe_side, probe_all, seed, quiet, as_json):
    """Find the transform and learning rate that make INPUT fit fastest, without encoding.

    The predictor ranks every candidate from the signal's statistics; those it expects to beat
    the identity (at most a few; --probe-all: every distinct one) are probed with the identity,
    each at three learning rates, on a centre crop, with successive halving; the cheapest
    predicted time to the best quality wins if it beats the identity clearly. When no
    transform is worth probing nothing is probed. The encode's learning rate (grid) comes from
    the whole image: twice the base rate for textured images (mean luma gradient >= 0.085),
    the base rate otherwise; a chosen transform rescales it by its best probe rate over the
    identity's. `nfc encode` runs the same search by default (`--transform auto`).

    Example:

        nfc search photo.png --json
    """
    from ..codec import EncodeConfig, search_config_for, search_file
    from ..errors import UsageError
    from ..progress import Progress
    from ..search import parse_transform_choice

    fixed, names = parse_transform_choice(transform_text)
    if fixed is not None:
        raise UsageError("nfc search needs 'auto' or at least two transforms to compare")
    encode_config = EncodeConfig(arch=arch, seed=seed, keep_interpolation=keep_interpolation, probe_side=probe_side)
    config = search_config_for(encode_config, names)  # the search `nfc encode` would run
    if probe_all:
        config.min_predicted_gain = float("-inf")
        config.max_transforms = 1 << 10
    result = search_file(input_path, encode_config, config, Progress(enabled=not quiet))
    if as_json:
        print_json({"input": input_path, **result.to_json(), "search": result.to_json()["rows"]})
        return
    click.echo(f"{'transform':<12}{'lr':>9}{'steps':>7}{'psnr':>8}{'pred. s':>9}{'rank':>6}{'out in':>9}  chosen")
    for r in result.rows:
        cost = f"{r.predicted_cost:9.3g}" if r.predicted_cost is not None else f"{'-':>9}"
        out = "-" if r.eliminated_round is None else ("pruned" if r.eliminated_round == 0 else f"round {r.eliminated_round}")
        quality = f"{r.psnr:>8.2f}" if r.psnr is not None else f"{'-':>8}"
        click.echo(f"{r.transform:<12}{r.lr:>9.3g}{r.steps:>7}{quality}{cost}{r.predictor_rank:>6}{out:>9}  {'*' if r.chosen else ''}")
    click.echo(f"chosen: {result.transform}, encode lr {result.lr:g} ({result.reason}); {result.seconds:.1f} s; "
               f"pruned by the predictor: {', '.join(result.skipped) or 'none'}")
