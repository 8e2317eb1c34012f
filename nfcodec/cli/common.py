"""What every command shares: the error-to-exit-status wrapper, JSON output, option bundles."""
from __future__ import annotations

import json
from typing import Any

import click

from ..errors import ExitStatus, NfcError
from ..jsonutil import json_safe


class NfcGroup(click.Group):
    """Runs a command and turns every failure into one line on stderr and an exit status.

    NfcError subclasses carry their status (1 data, 2 usage); anything else is reported as an
    internal error (status 1). `nfc --traceback ...` re-raises instead, for debugging.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except NfcError as exc:
            if ctx.obj and ctx.obj.get("traceback"):
                raise
            click.echo(f"nfc: error: {exc}", err=True)
            ctx.exit(int(exc.exit_status))
        except BrokenPipeError:
            # the reader of our output went away (`nfc info x.nff | head`): stop quietly, and
            # point stdout at /dev/null so the interpreter's final flush cannot fail again
            import os
            import sys

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(int(ExitStatus.OK))
        except KeyboardInterrupt:
            click.echo("nfc: interrupted", err=True)
            ctx.exit(int(ExitStatus.INTERRUPTED))
        except MemoryError:
            click.echo("nfc: error: out of memory", err=True)
            ctx.exit(int(ExitStatus.DATA_ERROR))
        except Exception as exc:  # never a traceback for users; --traceback shows it
            if ctx.obj and ctx.obj.get("traceback"):
                raise
            click.echo(f"nfc: internal error: {type(exc).__name__}: {exc} (rerun with --traceback)", err=True)
            ctx.exit(int(ExitStatus.DATA_ERROR))


def print_json(obj: dict[str, Any]) -> None:
    """One JSON object on stdout (machine output only; messages go to stderr)."""
    click.echo(json.dumps({"schema_version": 1, **json_safe(obj)}, sort_keys=False))


def note(message: str) -> None:
    click.echo(f"nfc: {message}", err=True)


def json_option(f: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")(f)



def _configure_threads(ctx: click.Context, _param: click.Parameter, value: int | None) -> Any:
    # eager: runs before any other option's callback can import torch or numba, so the OpenMP
    # settings are in the environment when those libraries load
    from ..threads import configure_threads

    settings = configure_threads(value)
    ctx.meta["nfc.threads"] = settings
    return settings


def deadline_option(f: Any) -> Any:
    return click.option(
        "--deadline", type=click.FloatRange(0.1, 86400), default=600.0, show_default=True, metavar="S",
        help="URLs: give up when the whole download (connecting included; rendering progressive widths not) "
             "takes longer than S seconds: a server that drips bytes or never answers.")(f)


def threads_option(f: Any) -> Any:
    return click.option(
        "--threads", type=click.IntRange(1, 1024), is_eager=True, expose_value=False, callback=_configure_threads,
        metavar="N",
        help="Worker threads for torch, numba and OpenMP [default: $NFC_THREADS, else $OMP_NUM_THREADS, else the "
             "CPUs this process may use (affinity and cgroup quota)]. Idle threads sleep, so encodes beside other "
             "work slow down fairly. Files are byte-identical at any thread count (reductions run in a fixed order). "
             "Batch workers: cores / workers.",
    )(f)


def thread_settings() -> Any:
    """The ThreadSettings the current command applied (see threads_option)."""
    return click.get_current_context().meta["nfc.threads"]
