#!/usr/bin/env python3
"""Kill -9 campaigns against `nfc`: run a command, SIGKILL its whole process group at random
moments, and after every kill check that no output is partial; then rerun it to completion.

Each scenario runs the command once uninterrupted (its duration D and the reference outputs:
CPU encodes are deterministic), then kills it N times: at stratified random moments over
[0, D] (seeded), and some kills the instant a new file shows up in the output folder (which
catches a writer that writes its output in place). After each kill, every visible output is
absent, the previous file byte for byte, or a complete one (the reference bytes; for a
progressive decode, exactly one width's pixels); hidden temporaries may remain. A last
uninterrupted run must then finish the work and leave no temporary.

    python tools/kill_harness.py --kills 40 --seed 7            # every scenario, a long campaign
    python tools/kill_harness.py --only batch,url --kills 10 -v
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
NFC = [sys.executable, "-c", "import sys; from nfcodec.cli import main; sys.exit(main())"]
TEMPORARY = re.compile(r"^\..+\.part(\.[A-Za-z0-9]+)?$")  # fsutil.atomic_write's temporaries
PREVIOUS = b"the previous complete output\n"  # what a kill must leave alone, if not replace whole


class HarnessError(AssertionError):
    """An invariant broke: a partial or foreign output, or a rerun that did not finish."""


def nfc_env() -> dict[str, str]:
    env = dict(os.environ, NFC_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return env


def run_to_end(argv: list[str], cwd: Path, timeout: float = 600) -> float:
    """Run `argv` uninterrupted; its wall time. A failure is a HarnessError."""
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=nfc_env(), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise HarnessError(f"{' '.join(argv[3:])} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return time.monotonic() - started


def visible(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if TEMPORARY.match(p.name)]


def kill_group_at(proc: subprocess.Popen, moment: Callable[[], bool], limit: float) -> bool:
    """SIGKILL `proc`'s process group when `moment()` turns true (polled every millisecond) or
    after `limit` seconds; False when the command had already finished by then."""
    until = time.monotonic() + limit
    while proc.poll() is None and not moment() and time.monotonic() < until:
        time.sleep(0.001)
    finished = proc.poll() is not None
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the command and every child (workers, ffmpeg)
    except ProcessLookupError:
        pass
    proc.wait()
    return not finished


# ---- scenarios -------------------------------------------------------------------------------


@dataclass
class Scenario:
    """One command, its output folder and what a complete output is."""

    name: str
    work: Path
    out: Path = field(init=False)

    def __post_init__(self) -> None:
        self.out = self.work / "out"
        self.out.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        raise NotImplementedError

    def reference(self) -> float:
        """Run once uninterrupted: the duration, and what a complete output is."""
        seconds = run_to_end(self.argv(), self.work)
        self.remember()
        return seconds

    def remember(self) -> None: ...

    def before_kill(self, index: int) -> None:
        """Alternate between no output and a previous complete one."""

    def check_killed(self) -> None:
        raise NotImplementedError

    def check_complete(self) -> None:
        raise NotImplementedError

    def files_changed(self) -> Callable[[], bool]:
        """True once a file in the output folder appears or changes (a temporary, or an
        output written in place)."""
        before = _files(self.out)
        return lambda: _files(self.out) != before

    def close(self) -> None: ...


def _files(folder: Path) -> dict[str, tuple[int, int, int]]:
    found = {}
    for entry in os.scandir(folder):
        try:
            if entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                found[entry.name] = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            pass  # renamed or removed meanwhile: the next poll sees it
    return found


class SingleOutput(Scenario):
    """A command with one output file whose complete bytes are deterministic."""

    target: str = ""

    @property
    def path(self) -> Path:
        return self.out / self.target

    def remember(self) -> None:
        self.expected = self.path.read_bytes()

    def before_kill(self, index: int) -> None:
        self.path.unlink(missing_ok=True)
        if index % 2:
            self.path.write_bytes(PREVIOUS)

    def check_killed(self) -> None:
        extra = visible(self.out) - {self.target}
        if extra:
            raise HarnessError(f"{self.name}: unexpected visible files after a kill: {sorted(extra)}")
        if self.path.exists() and self.path.read_bytes() not in (PREVIOUS, self.expected):
            data = self.path.read_bytes()
            raise HarnessError(f"{self.name}: {self.target} after a kill is neither the previous file nor the complete one "
                               f"({len(data)} bytes, {len(self.expected)} expected)")

    def check_complete(self) -> None:
        if not self.path.exists() or self.path.read_bytes() != self.expected:
            raise HarnessError(f"{self.name}: the rerun did not write the complete {self.target}")
        if self.target.endswith(".nff"):
            from nfcodec import container

            if not container.read(self.expected).complete:
                raise HarnessError(f"{self.name}: the complete {self.target} is not a complete .nff")


class EncodeImage(SingleOutput):
    target = "crop.nff"

    def __post_init__(self) -> None:
        super().__post_init__()
        import imageio.v3 as iio

        iio.imwrite(self.work / "crop.png", iio.imread(SAMPLES / "kodim23.png")[200:264, 300:364])

    def argv(self) -> list[str]:
        return [*NFC, "encode", "crop.png", "-o", f"out/{self.target}", "--steps", "10", "--stages", "2", "--transform", "none", "-q"]


class EncodeClip(SingleOutput):
    target = "clip.nff"

    def argv(self) -> list[str]:
        return [*NFC, "encode", str(SAMPLES / "carphone_24f.mp4"), "--frames", "0:4", "--resize", "48x40", "-o", f"out/{self.target}",
                "--steps", "10", "--stages", "2", "--transform", "none", "-q"]


class DecodeClip(SingleOutput):
    """A clip decoded to Y4M: the output is written frame by frame, so an in-place writer
    would be caught holding a partial file for most of the command."""

    target = "clip.y4m"

    def __post_init__(self) -> None:
        super().__post_init__()
        encoded = self.work.parent / "clip" / "out" / "clip.nff"  # the clip scenario's, when it ran
        if _complete_nff(encoded):
            shutil.copy(encoded, self.work / "clip.nff")
        else:
            from nfcodec.codec import EncodeConfig, encode

            encode(SAMPLES / "carphone_24f.mp4", self.work / "clip.nff",
                   EncodeConfig(steps=10, stages=2, transform="none", input_options={"frames": "0:4", "resize": "48x40"}))

    def argv(self) -> list[str]:
        return [*NFC, "decode", "clip.nff", "-o", f"out/{self.target}"]


class ProgressiveURL(Scenario):
    """`nfc decode URL --progressive -o live.png` from a loopback server that sends the file
    slowly: live.png is replaced as each stage arrives."""

    def __post_init__(self) -> None:
        super().__post_init__()
        from nfcodec import container
        from nfcodec.codec import EncodeConfig, decode_bytes, encode

        served = self.work.parent / "encode" / "out" / "crop.nff"  # the encode scenario's, when it ran
        if not _complete_nff(served):
            import imageio.v3 as iio

            served = self.work / "served.nff"
            iio.imwrite(self.work / "crop.png", iio.imread(SAMPLES / "kodim23.png")[200:264, 300:364])
            encode(self.work / "crop.png", served, EncodeConfig(steps=10, stages=2, transform="none"))
        data = served.read_bytes()
        stages = len(container.read_header(data).stages)
        self.widths = [decode_bytes(data, width=k).pixels for k in range(1, stages + 1)]
        # about 2 s in all, so that the kills land between stages too
        self.server = SlowRangeServer(data, piece=max(512, len(data) // 20), interval=0.1)

    def argv(self) -> list[str]:
        return [*NFC, "decode", self.server.url, "--progressive", "-o", "out/live.png", "--timeout", "5", "--deadline", "120"]

    def before_kill(self, index: int) -> None:
        (self.out / "live.png").unlink(missing_ok=True)
        if index % 2:
            (self.out / "live.png").write_bytes(PREVIOUS)

    def _width_of_live(self) -> int | None:
        """Which width live.png holds (None: the previous file); raises if none."""
        import numpy as np

        data = (self.out / "live.png").read_bytes()
        if data == PREVIOUS:
            return None
        import imageio.v3 as iio

        try:
            pixels = np.asarray(iio.imread(data, extension=".png"))
        except Exception as exc:
            raise HarnessError(f"{self.name}: live.png is not a readable PNG after a kill ({len(data)} bytes): {exc}") from None
        for k, reference in enumerate(self.widths, start=1):
            if pixels.shape == reference.shape and np.array_equal(pixels, reference):
                return k
        raise HarnessError(f"{self.name}: live.png holds no width of the file: a partial or mixed image")

    def check_killed(self) -> None:
        extra = visible(self.out) - {"live.png"}
        if extra:
            raise HarnessError(f"{self.name}: unexpected visible files after a kill: {sorted(extra)}")
        if (self.out / "live.png").exists():
            self._width_of_live()

    def check_complete(self) -> None:
        if not (self.out / "live.png").exists() or self._width_of_live() != len(self.widths):
            raise HarnessError(f"{self.name}: the rerun did not leave the full width in live.png")

    def close(self) -> None:
        self.server.stop()


class Batch(Scenario):
    """`nfc batch` over two tiny images; the reference is a separate uninterrupted batch."""

    OPTIONS = ["--stages", "2", "--steps", "6", "--transform", "none", "-q", "--workers", "1"]

    def __post_init__(self) -> None:
        super().__post_init__()
        import imageio.v3 as iio

        pixels = iio.imread(SAMPLES / "kodim23.png")
        (self.work / "in").mkdir(exist_ok=True)
        for i in range(2):
            iio.imwrite(self.work / "in" / f"img{i}.png", pixels[100 + 20 * i:124 + 20 * i, 200 + 10 * i:232 + 10 * i])

    def argv(self, outdir: str = "out") -> list[str]:
        return [*NFC, "batch", "in", "-o", outdir, *self.OPTIONS]

    def reference(self) -> float:
        seconds = run_to_end(self.argv("reference"), self.work)
        ref = self.work / "reference"
        self.expected = {name: (ref / name).read_bytes() for name in visible(ref) if name.endswith(".nff")}
        self.report = without_timings(json.loads((ref / "report.json").read_text()))
        # the CSV's rows and fields, and the summary's lines: what a cut file would lack
        self.csv_shape = _csv_shape((ref / "report.csv").read_text())
        self.summary_lines = len((ref / "summary.md").read_text().splitlines())
        return seconds

    def before_kill(self, index: int) -> None:
        if index == 0:
            shutil.rmtree(self.out)
            self.out.mkdir()

    def check_killed(self) -> None:
        for name in visible(self.out):
            path = self.out / name
            if name.endswith(".nff"):
                if self.expected.get(name) != path.read_bytes():
                    raise HarnessError(f"{self.name}: {name} after a kill is not the complete file")
            elif name == "report.json":
                try:
                    report = json.loads(path.read_text())
                except ValueError:
                    raise HarnessError(f"{self.name}: report.json after a kill is not whole JSON") from None
                if without_timings(report) != self.report:
                    raise HarnessError(f"{self.name}: report.json after a kill is not the complete report")
            elif name == "report.csv":
                if _csv_shape(path.read_text()) != self.csv_shape:
                    raise HarnessError(f"{self.name}: report.csv after a kill is not the complete table")
            elif name == "summary.md":
                text = path.read_text()
                if not text.endswith("\n") or len(text.splitlines()) != self.summary_lines:
                    raise HarnessError(f"{self.name}: summary.md after a kill is not the complete summary")
            else:
                raise HarnessError(f"{self.name}: unexpected visible file after a kill: {name}")

    def check_complete(self) -> None:
        nffs = {name: (self.out / name).read_bytes() for name in visible(self.out) if name.endswith(".nff")}
        if nffs != self.expected:
            raise HarnessError(f"{self.name}: the rerun's .nff files differ from an uninterrupted batch's")
        if without_timings(json.loads((self.out / "report.json").read_text())) != self.report:
            raise HarnessError(f"{self.name}: the rerun's report differs from an uninterrupted batch's")


def _csv_shape(text: str) -> list[int]:
    """Fields per row of a CSV table (a table cut short has fewer rows or a short last row)."""
    import csv
    import io

    return [len(row) for row in csv.reader(io.StringIO(text))]


def _complete_nff(path: Path) -> bool:
    from nfcodec import container
    from nfcodec.errors import NffError

    try:
        return container.read(path.read_bytes()).complete
    except (OSError, NffError):
        return False


def without_timings(report: dict) -> dict:
    from nfcodec.batch.report import without_timings as strip  # nfcodec loads in the commands only

    return strip(report)


SCENARIOS: dict[str, type[Scenario]] = {
    "encode": EncodeImage, "clip": EncodeClip, "decode-clip": DecodeClip, "url": ProgressiveURL, "batch": Batch,
}


# ---- a slow Range server ---------------------------------------------------------------------


class SlowRangeServer:
    """Serves one file with Range and a strong ETag, `piece` bytes every `interval` seconds."""

    def __init__(self, data: bytes, piece: int, interval: float):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
                start, stop = (int(match.group(1)), int(match.group(2) or len(data) - 1)) if match else (0, len(data) - 1)
                stop = min(stop, len(data) - 1)
                if start > stop:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if match else 200)
                if match:
                    self.send_header("Content-Range", f"bytes {start}-{stop}/{len(data)}")
                self.send_header("Content-Length", str(stop - start + 1))
                self.send_header("ETag", '"v1"')
                self.end_headers()
                try:
                    for at in range(start, stop + 1, outer.piece):
                        self.wfile.write(data[at:min(at + outer.piece, stop + 1)])
                        self.wfile.flush()
                        time.sleep(outer.interval)
                except OSError:
                    pass  # the client was killed

            def log_message(self, *args) -> None:
                pass

        self.piece, self.interval = piece, interval
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/served.nff"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- a campaign ------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    duration: float
    kills: int = 0  # the command was still running when killed
    finished_first: int = 0  # it had finished before the moment came
    temporaries_left: int = 0  # hidden temporaries found after kills (the rerun removes them)
    moments: list[str] = field(default_factory=list)


def campaign(scenario: Scenario, kills: int, rng: random.Random, on_sight: int = 1, log: Callable[[str], None] = lambda _: None) -> Outcome:
    """Reference run, `kills` kills (first `on_sight` of them when a new file first appears in
    the output folder, then the rest at stratified random moments from the earliest such
    appearance to the end: most of a short run is imports, which no kill needs to test),
    checks after each, a final run."""
    duration = scenario.reference()
    outcome = Outcome(scenario.name, duration)
    log(f"{scenario.name}: an uninterrupted run takes {duration:.1f} s")
    on_sight = min(on_sight, kills)
    writes_from = duration
    for index in range(kills):
        at = None
        if index >= on_sight:  # stratified over [writes_from, duration] (all of it without a sighting)
            start = writes_from if writes_from < duration else 0.0
            stratum = index - on_sight
            at = start + (duration - start) * (stratum + rng.random()) / (kills - on_sight)
        kind = "on sight" if at is None else "timed"
        scenario.before_kill(index)
        changed = scenario.files_changed()
        proc = subprocess.Popen(scenario.argv(), cwd=scenario.work, env=nfc_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        started = time.monotonic()
        if at is None:
            killed = kill_group_at(proc, changed, limit=3 * duration + 30)
        else:
            killed = kill_group_at(proc, lambda: time.monotonic() - started >= at, limit=at)
        if not killed and proc.returncode != 0:
            raise HarnessError(f"{scenario.name}: the command failed on its own (exit status {proc.returncode}) before the kill")
        if at is None and killed:
            writes_from = min(writes_from, time.monotonic() - started)
        moment = f"{kind} at {time.monotonic() - started:.2f} s" + ("" if killed else " (it had finished)")
        outcome.moments.append(moment)
        outcome.kills += killed
        outcome.finished_first += not killed
        outcome.temporaries_left += len(temporaries(scenario.out))
        log(f"{scenario.name}: kill {index + 1}: {moment}, {len(temporaries(scenario.out))} temporaries")
        scenario.check_killed()
    run_to_end(scenario.argv(), scenario.work)
    scenario.check_complete()
    left = temporaries(scenario.out)
    if left:
        raise HarnessError(f"{scenario.name}: temporaries remain after a completed rerun: {[p.name for p in left]}")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="kills per scenario [10]")
    parser.add_argument("--on-sight", type=int, default=2, help="of which, kills when a new output file appears [2]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"scenarios, comma-separated [{','.join(SCENARIOS)}]")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole campaign (new moments each round)")
    parser.add_argument("--workdir", type=Path, help="keep the files here [a temporary folder, removed]")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}: choose from {', '.join(SCENARIOS)}")
    rng = random.Random(args.seed)
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else (lambda _: None)
    base = args.workdir or Path(tempfile.mkdtemp(prefix="nfc-kill-"))
    failures = 0
    try:
        for round_ in range(args.rounds):
            for name in names:
                scenario = None
                try:
                    scenario = SCENARIOS[name](name, base / f"r{round_}" / name)
                    outcome = campaign(scenario, args.kills, rng, args.on_sight, log)
                    print(f"{name}: ok: {outcome.kills} kills, {outcome.finished_first} after it finished, "
                          f"{outcome.temporaries_left} temporaries left by kills (removed by the rerun); run {outcome.duration:.1f} s")
                except Exception as exc:  # noqa: BLE001 (a campaign reports every failure and goes on)
                    failures += 1
                    print(f"{name}: FAILED: {exc if isinstance(exc, HarnessError) else repr(exc)}")
                finally:
                    if scenario is not None:
                        scenario.close()
    finally:
        if args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
