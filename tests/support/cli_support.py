"""Helpers the CLI tests share: run a command in-process, check a one-line error."""
from __future__ import annotations

from click.testing import CliRunner

from nfcodec.cli import main
from nfcodec.errors import ExitStatus


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_one_line_error(result, status: ExitStatus, *fragments: str) -> str:
    """The command failed with `status`, one line on stderr, no traceback, each fragment in it."""
    assert result.exit_code == int(status), (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), lines[0]
    return lines[0]
