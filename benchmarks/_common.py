"""Shared helpers of the benchmark scripts: run metadata and JSON/markdown output."""
from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KODAK = REPO.parent / "shared" / "data" / "kodak"
RESULTS = REPO / "benchmarks" / "results"


def setup_runtime() -> bool:
    """The process settings `nfc` applies at start-up (nfcodec.runtime), so benchmarks measure
    what the command line runs; baselines in the same process get them too."""
    from nfcodec.runtime import tune_allocator

    return tune_allocator()


def run_metadata(argv: list[str]) -> dict[str, Any]:
    import torch
    from nfcodec import runtime

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        # results written by earlier runs do not make the code dirty
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"], cwd=REPO, capture_output=True, text=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    return {
        "command": " ".join(["python", os.path.relpath(sys.argv[0], REPO) if sys.argv[0] else "?", *argv]),
        "argv": argv,
        "git_commit": commit + ("-dirty" if dirty else ""),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "allocator_tuned": bool(runtime._applied),
        "load_average_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def write_json(path: Path, obj: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    tmp.replace(path)


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def time_steps(step: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median seconds per step after two warm-up steps; also the warm-up (compile) time."""
    start = time.perf_counter()
    step()
    step()
    warmup = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return (float(statistics.median(times)) if times else float("nan")), warmup


def time_interleaved(steps: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median seconds per step of each function, measured round-robin (A B C A B C ...) so that
    load changes during the run hit every contender alike; plus each one's warm-up time."""
    warmups = {name: time_steps(step, 0)[1] for name, step in steps.items()}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: (float(statistics.median(times[name])), warmups[name]) for name in steps}


WRAPPER = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); " \
          "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"


def peak(command: list[str]) -> tuple[float, float]:
    """(peak resident MiB of `command`'s process, wall seconds)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, check=True)
    status, kib = out.stdout.split()[-2:]
    if int(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {out.stderr.strip()}")
    return int(kib) / 1024, time.perf_counter() - start


def psnr_at(curve: list[tuple[float, float]], bpp: float, extend: float = 0.0) -> float | None:
    """A rate-distortion curve [(bpp, psnr), ...] at `bpp`, linear in log-rate between its
    points; up to a fraction `extend` past its ends the end segment is extended (None beyond)."""
    rates, values = np.array(sorted(curve)).T
    if not (1 - extend) * rates[0] <= bpp <= (1 + extend) * rates[-1]:
        return None
    x, xs = math.log(bpp), np.log(rates)
    i = int(np.clip(np.searchsorted(xs, x) - 1, 0, len(xs) - 2))
    return float(values[i] + (values[i + 1] - values[i]) * (x - xs[i]) / (xs[i + 1] - xs[i]))
