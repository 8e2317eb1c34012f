"""kill -9 at random moments (seeded) during an encode, a clip decode, a progressive decode of
a URL and a batch, with tools/kill_harness.py: after every kill no visible output is partial,
and a rerun finishes the work and leaves no temporary behind. Each campaign costs about three
runs of its command, so the test keeps them short; `python tools/kill_harness.py --kills 40`
runs them (and a clip's encode) for longer."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import kill_harness  # noqa: E402


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    # one folder for the module: the url scenario serves the file the encode scenario wrote
    return tmp_path_factory.mktemp("kills")


# scenario, kills: one the instant a file appears in the output folder (for decode-clip, which
# writes its output frame by frame, that one catches a writer that writes in place), the
# others at stratified random moments of a run
@pytest.mark.parametrize("name, kills", [("encode", 2), ("decode-clip", 2), ("url", 2), ("batch", 2)])
def test_kill_9_leaves_no_partial_output_and_a_rerun_completes(base, name, kills):
    scenario = kill_harness.SCENARIOS[name](name, base / name)
    try:
        outcome = kill_harness.campaign(scenario, kills, random.Random(f"issue-16-{name}"), on_sight=1)
    finally:
        scenario.close()
    assert outcome.kills >= kills - 1, outcome.moments  # the kills landed while it ran
