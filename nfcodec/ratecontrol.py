"""Rate control: what size or quality each stage aims at, and the quantisation steps that land
an entropy-coded stage on it.

A target is a whole-file size (`--size`, or `--bpp` times the signal's points), per-stage
prefix sizes (`--stage-bpp`), or a quality (`--psnr`). Training moves lambda towards the
stage's share (train/quantisation.py); once it ends, `code_stage` picks each weight tensor's
step by rate-distortion cost and then scales the table's step until the coded stage lands on
its bytes (or its quality): the size is measured, not estimated.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from .container import CHUNK_OVERHEAD
from .container.entropy import max_alphabet
from .container.tensors import quantise
from .errors import UsageError
from .train.quantisation import RateTarget

CODED_DTYPE = "qe"
TABLE = "table"
SIZE_TOLERANCE = 0.05  # a size target is met within [1 - 5%, 1] of the asked bytes
WEIGHT_STEPS = tuple(2.0**-e for e in range(3, 15))  # candidate steps of a weight tensor
_UNITS = {"": 1, "b": 1, "kb": 1000, "k": 1000, "mb": 1000**2, "m": 1000**2, "kib": 1024, "mib": 1024**2}


def parse_size(text: str) -> int:
    """'20KB', '1.5MB', '30000', '64KiB' -> bytes (KB = 1000 bytes, KiB = 1024)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise UsageError(f"--size {text!r}: give bytes, or a number with KB, MB, KiB or MiB")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size < 64:
        raise UsageError(f"--size {text!r}: a file needs at least 64 bytes")
    return size


def parse_rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(part) for part in str(text).split(","))
    except ValueError:
        raise UsageError(f"--stage-bpp {text!r}: give rates separated by commas, like 0.05,0.15,0.5") from None
    if not rates or any(not (math.isfinite(r) and r > 0) for r in rates) or any(b <= a for a, b in zip(rates, rates[1:])):
        raise UsageError(f"--stage-bpp {text!r}: rates must be positive and increasing")
    return rates


@dataclass(frozen=True)
class Goal:
    """An encode's rate-distortion goal: file bytes, per-stage prefix bytes, or a PSNR."""

    file_bytes: int | None = None
    stage_bytes: tuple[int, ...] | None = None  # prefix bytes through each stage
    psnr: float | None = None

    @property
    def sized(self) -> bool:
        return self.file_bytes is not None or self.stage_bytes is not None


def goal_from_options(bpp: float | None, size: str | int | None, psnr: float | None, stage_bpp: str | Sequence[float] | None,
                      points: int, stages: int) -> Goal | None:
    """The goal the user asked for (at most one of the four), or None."""
    given = [name for name, v in (("--bpp", bpp), ("--size", size), ("--psnr", psnr), ("--stage-bpp", stage_bpp)) if v is not None]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)}: choose one rate or quality target")
    if bpp is not None:
        if not (math.isfinite(bpp) and bpp > 0):
            raise UsageError(f"--bpp must be a positive number, got {bpp!r}")
        return Goal(file_bytes=max(64, int(bpp * points / 8)))
    if size is not None:
        if isinstance(size, bool) or (isinstance(size, int) and size < 64):
            raise UsageError(f"--size {size!r}: a file needs at least 64 bytes")
        return Goal(file_bytes=size if isinstance(size, int) else parse_size(size))
    if psnr is not None:
        if not (math.isfinite(psnr) and 5 <= psnr <= 80):
            raise UsageError(f"--psnr must be between 5 and 80 dB, got {psnr!r}")
        return Goal(psnr=float(psnr))
    if stage_bpp is not None:
        rates = parse_rates(stage_bpp if isinstance(stage_bpp, str) else ",".join(str(float(r)) for r in stage_bpp))
        if len(rates) != stages:
            raise UsageError(f"--stage-bpp gives {len(rates)} rates for {stages} stages (set --stages {len(rates)})")
        return Goal(stage_bytes=tuple(max(64, int(r * points / 8)) for r in rates))
    return None


def stage_prefix_bytes(goal: Goal, stages: int, header: int = 0) -> list[int] | None:
    """Prefix bytes through each stage: the asked ones, or a whole-file size whose stage data
    (what the `header` bytes leave) is split so each stage doubles it (the previews stay small)."""
    if goal.stage_bytes is not None:
        return list(goal.stage_bytes)
    if goal.file_bytes is None:
        return None
    data = goal.file_bytes - header
    return [header + int(data * 2.0 ** (k - stages)) for k in range(1, stages + 1)]


def stage_target(prefix: Sequence[int] | None, psnr: float | None, stage: int, spent: int) -> RateTarget:
    """Stage `stage`'s own target: the prefix bytes through it less what the file has spent
    before it (header, framing, earlier stages: bytes an earlier stage left unused pass on),
    or the PSNR (every stage aims at the file's quality; a preview gets what its levels allow)."""
    if prefix is None:
        return RateTarget(psnr=psnr)
    own = prefix[stage - 1] - spent
    if own < 16:
        raise UsageError(f"the asked size leaves {own} bytes for stage {stage} after {spent} bytes before it: ask for more, or fewer --stages")
    return RateTarget(bits=8.0 * own)


# ---- coding a trained stage -------------------------------------------------------------


@dataclass
class CodedTensors:
    steps: dict[str, float]
    bytes: int  # coded tensors, framing excluded


Evaluate = Callable[[Mapping[str, np.ndarray]], float]  # decoded stage tensors -> distortion (loss units)


def coded_bytes(tensors: Mapping[str, np.ndarray], steps: Mapping[str, float]) -> tuple[int, dict[str, np.ndarray]]:
    total, decoded = 0, {}
    for name, values in tensors.items():
        spec, raw, back = quantise(values, CODED_DTYPE, steps[name])
        total += len(raw)
        decoded[name] = back
    return total, decoded


def min_step(values: np.ndarray) -> float:
    """The smallest step whose codes fit one stream's alphabet (entropy.max_alphabet values)."""
    span = float(np.max(values) - np.min(values)) if values.size else 0.0
    return float(np.nextafter(np.float32(max(span / (max_alphabet(values.size) - 4), 2.0**-120)), np.float32(np.inf)))


def choose_weight_steps(tensors: Mapping[str, np.ndarray], table_step: float, lam: float, points: int,
                        evaluate: Evaluate, fast: bool = False) -> dict[str, float]:
    """Each non-table tensor's step by rate-distortion cost D + lambda * bits / points (the
    training loss's units), one tensor at a time with the others at their chosen steps; the
    table keeps `table_step`."""
    steps = {name: max(table_step if name == TABLE else WEIGHT_STEPS[-1], min_step(values)) for name, values in tensors.items()}
    candidates = WEIGHT_STEPS[::2] if fast else WEIGHT_STEPS
    decoded = coded_bytes(tensors, steps)[1]
    for name in tensors:
        if name == TABLE or tensors[name].size == 0:
            continue
        best = (math.inf, steps[name], decoded[name])
        for step in candidates:
            if step < min_step(tensors[name]):
                continue  # more codes than a stream's alphabet holds
            size, trial = coded_bytes({name: tensors[name]}, {name: step})  # the other tensors' bytes do not change
            cost = evaluate({**decoded, **trial}) + lam * 8.0 * size / points
            best = min(best, (cost, step, trial[name]), key=lambda c: c[:2])
        steps[name], decoded[name] = best[1], best[2]
    return steps


def deadzone(values: np.ndarray, width: float, step: float) -> np.ndarray:
    """Values moved `width` steps towards zero (never past it): rounding them is rounding with
    a dead zone, the encoder's fine rate knob (a decoder only sees codes x step)."""
    return (np.sign(values) * np.maximum(np.abs(values) - np.float32(width * step), 0.0)).astype(np.float32)


def land_table(tensors: Mapping[str, np.ndarray], steps: Mapping[str, float], budget_bytes: int | None,
               meets_quality: Callable[[Mapping[str, np.ndarray]], bool] | None, iterations: int = 12,
               ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The table's step and values that land the coded tensors on the goal: at most
    `budget_bytes` and at least 97.5% of it, or (quality goal) the largest step still meeting
    the quality: a bisection on the table's step, then, where the size jumps between two
    steps, the finer one with a dead zone (smooth in bytes). Returns (steps, tensors to code)."""
    name = TABLE if TABLE in tensors else None
    if name is None or (budget_bytes is None and meets_quality is None):
        return dict(steps), dict(tensors)
    base, smallest = steps[name], min_step(tensors[name])

    def at(factor: float) -> dict[str, float]:
        return {**steps, name: max(float(np.float32(base * factor)), smallest)}

    def size(trial_steps: Mapping[str, float], trial: Mapping[str, np.ndarray]) -> int:
        return coded_bytes(trial, trial_steps)[0]

    if budget_bytes is None:  # quality: the largest step (log bisection) that still meets it
        lo, hi = math.log(1 / 64), math.log(64)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if meets_quality(coded_bytes(tensors, at(math.exp(mid)))[1]) else (lo, mid)
        return at(math.exp(lo)), dict(tensors)
    floor = (1 - SIZE_TOLERANCE / 2) * budget_bytes  # aim inside the tolerance: the header adds a few bytes
    first = size(steps, tensors)
    if floor <= first <= budget_bytes:
        return dict(steps), dict(tensors)
    # a step factor that fits (hi) and one that does not (lo), bisected on a log scale
    lo, hi = (math.log(1 / 64), 0.0) if first < floor else (0.0, math.log(64))
    if first < floor and size(at(1 / 64), tensors) <= budget_bytes:
        return at(1 / 64), dict(tensors)  # the finest step still fits: the table is all there is
    if first > budget_bytes and size(at(64), tensors) > budget_bytes:
        return at(64), dict(tensors)  # the weights alone take the budget
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        n = size(at(math.exp(mid)), tensors)
        if floor <= n <= budget_bytes:
            return at(math.exp(mid)), dict(tensors)
        lo, hi = (mid, hi) if n > budget_bytes else (lo, mid)
    # sizes jump between the two (entries bunched at a rounding boundary): the finer step,
    # with a dead zone wide enough to fit
    over = at(math.exp(lo))
    dz_lo, dz_hi = 0.0, 0.5
    for _ in range(iterations):
        mid = 0.5 * (dz_lo + dz_hi)
        trial = {**tensors, name: deadzone(tensors[name], mid, over[name])}
        n = size(over, trial)
        if floor <= n <= budget_bytes:
            return over, trial
        dz_lo, dz_hi = (mid, dz_hi) if n > budget_bytes else (dz_lo, mid)
    trial = {**tensors, name: deadzone(tensors[name], dz_hi, over[name])}
    return (over, trial) if size(over, trial) <= budget_bytes else (at(math.exp(hi)), dict(tensors))


def stage_budget(target: RateTarget) -> int | None:
    """A stage's coded-tensor bytes: its bits less its chunk's framing (the header and the
    other chunks are charged before the first stage: container.bytes_before_stages)."""
    if target.bits is None:
        return None
    return max(8, int(target.bits // 8) - CHUNK_OVERHEAD)


def goal_warnings(goal: Goal | None, size: int, psnr: float) -> list[str]:
    """One line for a goal the file missed (the encode still succeeds)."""
    if goal is None:
        return []
    if goal.sized:
        asked = goal.file_bytes if goal.file_bytes is not None else goal.stage_bytes[-1]
        if size > asked:
            return [f"the file takes {size} bytes, more than the {asked} asked: the field's weights alone need about that; use fewer --stages"]
        if size < (1 - SIZE_TOLERANCE) * asked:
            return [f"the file takes {size} bytes, less than 95% of the {asked} asked: the field is as fine as it can get"]
    elif goal.psnr is not None and math.isfinite(psnr) and psnr < goal.psnr - 0.1:
        return [f"the decoded PSNR is {psnr:.2f} dB, below the {goal.psnr:g} dB asked: more --steps or --effort slow may reach it"]
    return []
