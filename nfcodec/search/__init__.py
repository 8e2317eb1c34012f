"""Transform search: which invertible transform (and learning rate) makes the field fit fastest.

1. Rank the candidate transforms with a cheap predictor (predictor.py) and keep the best few,
   always including the identity (the baseline every decision is measured against).
   Only transforms predicted faster than the identity by `min_predicted_gain` are probed (most
   images keep the identity alone).
2. Probe every (transform, lr) arm on a centre crop of the signal (probe.py) for a short budget;
   successive halving keeps the better half and doubles the budget, round after round, until
   one arm is left or the rounds are spent. With nothing but the identity left, nothing is
   probed.
3. Decide: fit PSNR ~ a + b log2(steps) to each survivor's curve, predict the steps each needs to
   reach the best PSNR seen, times its measured seconds per step; the cheapest wins if it beats
   the identity's best arm by `margin_db` (probes are a proxy, and a wrong switch costs more
   than a missed small gain).
The encode's learning rate: the identity's is predicted from the whole image (predictor.
rate_factor: textured images train faster at twice the base rate, smooth ones lose quality at
it), a chosen transform's is that times its best probe rate over the identity's (see `decide`).
A centre crop's own preferred rate was measured to be a poor guide to the whole image's.
The table (every arm: steps, PSNR, predicted cost, round eliminated, chosen) and the search's
own wall time are returned; the encoder stores them in the file (`srch` chunk) and `--json`.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..errors import UsageError
from ..progress import SILENT, Progress
from ..transforms import PRESETS, resolve_preset
from .predictor import Prediction, distinct, predict, rate_factor
from .probe import Arm, ProbeSignal, centre_crop, make_arm, train_arm

IDENTITY = "identity"


@dataclass
class SearchConfig:
    candidates: tuple[str, ...] | None = None  # preset names; None: every preset
    keep_interpolation: bool = False  # exclude transforms a decoder cannot resample (permutations)
    # probe learning rates, times the base rate: transforms are compared each at its best
    # (the architecture's policy: presets.ARCH_DEFAULTS[arch]["search_lr"])
    lr_factors: tuple[float, ...] = (1.0, 2.0, 4.0)
    # the identity's encode rate: `raised_lr_factor` x the base rate where the image's mean
    # luma gradient reaches this (predictor.rate_factor); None: the base rate (an explicit
    # --lr, or an architecture without a measured rule)
    rate_gradient_threshold: float | None = None
    raised_lr_factor: float = 2.0
    # the encode rate stays within these factors of the base rate (rates beyond were not
    # measured on whole encodes; half the grid's base rate was never an encode's best)
    encode_lr_range: tuple[float, float] = (0.5, 2.0)
    max_transforms: int = 3  # probed transforms after the predictor's pruning (identity included)
    probe_side: int = 128  # crop side in pixels
    # steps of the first round: probe rates only separate after ~64 steps (kodim03: 4e-2 leads
    # 2e-2 at 32 steps and trails from 64 on), the second round's budget with 32
    first_steps: int = 32
    rounds: int = 3  # successive-halving rounds (keep the better half, double the budget)
    # a probe's lead over the identity must be at least this: on Kodak, leads of 0.1-0.2 dB on
    # the probe crop did not carry over to the whole encode (kodim18: gamma1.5 led by 0.1 dB
    # and the encode lost 0.36 dB; benchmarks/results/search_payoff.md, first run)
    margin_db: float = 0.3
    # probe only transforms whose predicted cost beats the identity's by this much (log10 units;
    # 0.05 is ~12%); 0 probes every distinct candidate, -inf even those predicted slower
    min_predicted_gain: float = 0.05
    max_side_fraction: float = 0.1  # skip transforms whose stored data would exceed this share of the field's bytes
    seed: int = 0


@dataclass
class SearchRow:
    transform: str  # preset name
    lr: float
    steps: int
    psnr: float | None  # dB on the original crop after the last round the arm ran (None: not probed)
    predicted_steps: float | None  # probe steps to the best PSNR seen (fit of its curve), None if unknown
    predicted_cost: float | None  # the same in seconds (the median probe step time)
    predictor_rank: int  # 1 = the predictor's first choice
    predictor_score: float
    eliminated_round: int | None  # None: survived every round; 0: not probed (pruned by the predictor)
    seconds: float
    chosen: bool = False


@dataclass
class SearchResult:
    transform: str
    lr: float  # the encode's learning rate (the identity's predicted one, or rescaled: see `decide`)
    rows: list[SearchRow]
    predictions: list[Prediction]
    seconds: float
    probe_shape: tuple[int, int]
    reason: str
    skipped: list[str] = field(default_factory=list)  # pruned by the predictor; 'a (= b)': predicted equal to b

    @property
    def predictor_first(self) -> str:
        return self.predictions[0].preset

    def to_json(self, timings: bool = True) -> dict[str, Any]:
        """The table. Without `timings` (what files store) it holds no wall-clock values, so an
        encode's bytes depend on the seed alone, and no rows for unprobed candidates (`pruned`
        names them with the reason), to keep the chunk small."""
        timed = ("seconds", "predicted_cost")
        kept = self.rows if timings else [r for r in self.rows if r.eliminated_round != 0]
        rows = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(r).items() if timings or k not in timed} for r in kept]
        return {
            "transform": self.transform,
            "lr": self.lr,
            **({"seconds": round(self.seconds, 3)} if timings else {}),
            "probe_shape": list(self.probe_shape),
            "predictor_first": self.predictor_first,
            "reason": self.reason,
            "pruned": self.skipped,
            "rows": rows,
        }


AUTO = "auto"


def parse_transform_choice(text: str) -> tuple[str | None, tuple[str, ...] | None]:
    """An `--transform` value: (preset, None) for one fixed transform ("none" is the identity),
    (None, None) for "auto" (search every preset), (None, names) for a list to search."""
    from ..transforms import parse_transform_option

    text = text.strip()
    if text == AUTO:
        return None, None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("--transform needs 'auto', 'none' or preset names")
    parsed = tuple(dict.fromkeys(parse_transform_option(n) for n in names))
    if len(parsed) == 1:
        return parsed[0], None
    return None, parsed


def candidate_presets(admitted: frozenset[str] | None, config: SearchConfig) -> list[str]:
    """The presets to search: the asked ones (default: all) that the modality admits
    (`admitted`: transform registry names; None: every one)."""
    names = list(config.candidates) if config.candidates else list(PRESETS)
    out = []
    for name in names:
        preset = resolve_preset(name)
        cls = _transform_class(preset.transform)
        if admitted is not None and preset.transform not in admitted:
            continue
        if config.keep_interpolation and not cls.preserves_interpolation:
            continue
        out.append(preset.name)
    if not out:
        raise UsageError("no transform left to search (check --transform and --keep-interpolation)")
    if IDENTITY not in out:
        out.insert(0, IDENTITY)  # the baseline every decision is measured against
    return out


def _transform_class(registry_name: str) -> Any:
    from ..registry import TRANSFORMS

    return TRANSFORMS.by_name(registry_name).load()


def search(
    values: np.ndarray,
    build_field: Callable[[tuple[int, int], int], Any],
    base_lr: float,
    config: SearchConfig | None = None,
    admitted: frozenset[str] | None = None,
    device: torch.device | None = None,
    precision: str = "auto",
    progress: Progress = SILENT,
    field_bytes: float | None = None,
) -> SearchResult:
    """Search over transforms and learning rates for values [H, W, C] in [0, 1].
    `build_field(shape, channels)` makes the single-stage field probes train; `field_bytes`
    (the encode's expected field size) lets the search skip transforms whose stored data
    (an ordered permutation: ~2 bytes per pixel) would dwarf it."""
    config = config or SearchConfig()
    device = device or torch.device("cpu")
    start = time.perf_counter()
    names = candidate_presets(admitted, config)
    crop = centre_crop(np.asarray(values, dtype=np.float32), config.probe_side)
    predictions = predict(crop, names, config.seed)
    area = float(np.prod(values.shape[:-1])) / float(np.prod(crop.shape[:-1]))
    kept, skipped = select_candidates(predictions, crop, area, field_bytes, config)
    rank = {p.preset: i + 1 for i, p in enumerate(predictions)}
    score = {p.preset: p.score for p in predictions}
    unprobed = [
        SearchRow(transform=p.preset, lr=base_lr, steps=0, psnr=None, predicted_steps=None, predicted_cost=None,
                  predictor_rank=rank[p.preset], predictor_score=p.score, eliminated_round=0, seconds=0.0)
        for p in predictions if p.preset not in kept
    ]
    identity_lr, rate_note = base_lr, ""
    if config.rate_gradient_threshold is not None:
        factor, gradient = rate_factor(values, config.rate_gradient_threshold, config.raised_lr_factor)
        identity_lr = base_lr * factor
        sign = ">=" if factor != 1.0 else "<"
        rate_note = f"; mean luma gradient {gradient:.4f} {sign} {config.rate_gradient_threshold:g}: lr {identity_lr:g}"
    bounds = (base_lr * config.encode_lr_range[0], base_lr * config.encode_lr_range[1])
    if kept == [IDENTITY]:
        row = SearchRow(transform=IDENTITY, lr=identity_lr, steps=0, psnr=None, predicted_steps=None, predicted_cost=None,
                        predictor_rank=rank[IDENTITY], predictor_score=score[IDENTITY], eliminated_round=None,
                        seconds=0.0, chosen=True)
        reason = f"no candidate is predicted faster than the identity by {config.min_predicted_gain:g} (log10): no probes{rate_note}"
        return SearchResult(IDENTITY, identity_lr, [row] + unprobed, predictions, time.perf_counter() - start, crop.shape[:2], reason, skipped)

    signal = ProbeSignal.of(crop, device)
    arms = [make_arm(n, base_lr * f, signal, build_field, config.seed, device) for n in kept for f in config.lr_factors]
    alive, eliminated = successive_halving(arms, signal, config, rank, precision, progress)
    best_psnr = max(a.psnr for a in arms)
    # every arm trains the same field on the same crop: one step costs the same whatever the
    # transform, so costs use the median rate (robust to JIT warm-up and load spikes)
    rate = float(np.median([a.seconds_per_step for a in arms]))
    # decisions use predicted steps (deterministic); seconds are reported only
    costs = {id(a): predicted_steps(a, best_psnr) for a in arms}
    chosen, lr, reason = decide(arms, alive, costs, identity_lr, config.margin_db, bounds)
    reason += rate_note
    progress.finish(f"{chosen.preset}, encode lr {lr:g}")
    rows = [
        SearchRow(
            transform=a.preset, lr=a.lr, steps=a.steps, psnr=a.psnr, predicted_steps=costs[id(a)],
            predicted_cost=None if costs[id(a)] is None else costs[id(a)] * rate,
            predictor_rank=rank[a.preset], predictor_score=score[a.preset],
            eliminated_round=eliminated.get(id(a)), seconds=a.seconds, chosen=a is chosen,
        )
        for a in arms
    ]
    return SearchResult(chosen.preset, lr, rows + unprobed, predictions, time.perf_counter() - start, signal.shape, reason, skipped)


def select_candidates(
    predictions: list[Prediction], crop: np.ndarray, area: float, field_bytes: float | None, config: SearchConfig
) -> tuple[list[str], list[str]]:
    """The transforms worth probing, best predicted first, with the identity always among them,
    and the others with why they were dropped: predicted equal to a better-ranked one, storing
    too much, or not predicted faster than the identity by `min_predicted_gain`."""
    reps, merged = distinct(predictions, IDENTITY)
    identity_score = next(p.score for p in predictions if p.preset == IDENTITY)
    why: dict[str, str] = {n: f"{n} (= {m})" for n, m in merged.items()}
    kept = []
    for p in reps:
        if p.preset == IDENTITY:
            continue
        if p.score > identity_score - config.min_predicted_gain:
            why[p.preset] = f"{p.preset} (predicted gain {identity_score - p.score:.3f} < {config.min_predicted_gain:g})"
            continue
        side = side_data_bytes(p.preset, crop, config.seed) * area if field_bytes is not None else 0.0
        if field_bytes is not None and side > config.max_side_fraction * field_bytes:
            why[p.preset] = f"{p.preset} (stores ~{side / 1024:.0f} KiB, > {config.max_side_fraction:.0%} of the field)"
            continue
        kept.append(p.preset)
    kept = [IDENTITY] + kept[: max(0, config.max_transforms - 1)]
    skipped = [why.get(p.preset, f"{p.preset} (beyond the {config.max_transforms} probed)") for p in predictions if p.preset not in kept]
    return kept, skipped


def successive_halving(
    arms: list[Arm], signal: ProbeSignal, config: SearchConfig, rank: dict[str, int], precision: str, progress: Progress
) -> tuple[list[Arm], dict[int, int]]:
    """Train every arm `first_steps`, keep the better half, double the budget, `rounds` times
    or until one arm is left. Returns the survivors (best first) and, per eliminated arm (by
    id), the round it dropped out in."""
    alive, eliminated = list(arms), {}
    budgets = [config.first_steps * 2**r for r in range(config.rounds)]  # cumulative steps per round
    total_steps, n = 0, len(arms)
    for r, b in enumerate(budgets):
        if r and n == 1:
            break
        total_steps += (b - (budgets[r - 1] if r else 0)) * n
        n = max(1, math.ceil(n / 2))
    progress.start("transform search", total_steps)
    done = 0
    for round_, budget in enumerate(budgets, start=1):
        if round_ > 1 and len(alive) == 1:
            break  # nothing left to compare: more steps would not change the decision
        for arm in alive:
            before = arm.steps
            if round_ == 1:  # two points on every curve, so even first-round losers get a slope
                train_arm(arm, signal, budget // 2, precision)
            train_arm(arm, signal, budget - arm.steps, precision)
            done += arm.steps - before
            progress.update(min(done, total_steps), f"{arm.preset} lr {arm.lr:g}: {arm.psnr:.2f} dB")
        # near-ties (e.g. "centre" vs the identity: the output offset absorbs the shift) go to
        # the simpler transform: the identity, then the predictor's order (then the lower rate:
        # the sort is stable and arms come in rate order)
        alive.sort(key=lambda a: (-round(a.psnr, 2), a.preset != IDENTITY, rank[a.preset]))
        if round_ == config.rounds:
            break
        keep = max(1, math.ceil(len(alive) / 2))
        for arm in alive[keep:]:
            eliminated[id(arm)] = round_
        alive = alive[:keep]
    return alive, eliminated


def search_for_encode(
    values: np.ndarray,
    encode_config: Any,
    config: SearchConfig | None = None,
    admitted: frozenset[str] | None = None,
    device: torch.device | None = None,
    progress: Progress = SILENT,
) -> SearchResult:
    """The search an encode runs: probes train the encode's own architecture, scaled to the
    crop (presets.probe_field), around the encode's learning rate."""
    from ..presets import ARCH_DEFAULTS, probe_field

    full_shape = tuple(values.shape[:-1])
    base_lr = encode_config.lr or ARCH_DEFAULTS[encode_config.arch]["lr"]

    def build(shape: tuple[int, int], channels: int) -> Any:
        return probe_field(encode_config, shape, full_shape, channels)

    return search(values, build, base_lr, config, admitted, device, encode_config.precision, progress,
                  field_bytes=expected_field_bytes(encode_config, full_shape, values.shape[-1]))


def expected_field_bytes(encode_config: Any, shape: tuple[int, ...], channels: int) -> float:
    """Stored bytes of the encode's field before entropy coding: every stage's tensors at their
    storage precision (an upper bound of the file's field part)."""
    from ..presets import ARCH_DEFAULTS, build_field, storage_dtype

    model = build_field(encode_config, shape, channels)
    dtypes = encode_config.dtype or ARCH_DEFAULTS[encode_config.arch]["dtype"]
    size = {"f32": 4, "f16": 2, "q16": 2, "q8": 1}
    total = 0.0
    for stage in range(1, len(model.widths) + 1):
        for name, shape_ in model.stage_shapes(stage).items():
            total += float(np.prod(shape_)) * size[storage_dtype(dtypes, name)]
    return total


def side_data_bytes(preset: str, crop: np.ndarray, seed: int) -> int:
    """Compressed bytes of the data a transform stores for `crop` (0 for most: a seed or a few
    floats live in the header)."""
    import zstandard

    from ..transforms import fit_transform

    data = fit_transform(preset, crop, seed).data()
    return 0 if data is None else len(zstandard.ZstdCompressor(level=19).compress(data))


def predicted_steps(arm: Arm, target_psnr: float, seconds_per_step: float = 1.0) -> float | None:
    """Steps (times `seconds_per_step`: seconds) for `arm` to reach `target_psnr`, from
    PSNR ~ a + b log2(steps) over its curve."""
    if arm.psnr >= target_psnr:
        # already there: interpolate within the last doubling
        if len(arm.curve) < 2:
            return arm.steps * seconds_per_step
        (s0, p0), (s1, p1) = arm.curve[-2], arm.curve[-1]
        if p1 <= p0 or target_psnr <= p0:
            return seconds_per_step * (s0 if target_psnr <= p0 else s1)
        t = (target_psnr - p0) / (p1 - p0)
        return seconds_per_step * s0 * 2 ** (t * math.log2(s1 / s0))
    if len(arm.curve) < 2:
        return None
    x = np.log2([s for s, _ in arm.curve])
    y = np.array([p for _, p in arm.curve])
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 1e-6:
        return None
    steps = 2 ** ((target_psnr - intercept) / slope)
    return float(steps * seconds_per_step)


def decide(
    arms: list[Arm], alive: list[Arm], costs: dict[int, float | None], identity_lr: float, margin_db: float,
    lr_bounds: tuple[float, float] = (0.0, math.inf),
) -> tuple[Arm, float, str]:
    """The arm to encode with, the encode's learning rate, and why.

    Transforms are compared at their own best probe learning rate (as the papers tune lr per
    transform): the predicted-cheapest survivor wins if it beats the identity's best arm by
    `margin_db` at equal steps. The identity encodes at `identity_lr`; a transform at that
    times its best probe rate over the identity's (a transform that halves the values needs a
    larger rate), kept within `lr_bounds`."""
    # the identity's best rate: its surviving arm (halving's order and tie-break), else the one
    # that went furthest
    alive_identity = [a for a in alive if a.preset == IDENTITY]
    best_identity = alive_identity[0] if alive_identity else max(
        (a for a in arms if a.preset == IDENTITY), key=lambda a: (a.steps, a.psnr))
    ranked = sorted(alive, key=lambda a: (costs[id(a)] if costs[id(a)] is not None else math.inf, a.preset != IDENTITY))
    best = ranked[0]
    if best.preset == IDENTITY:
        return best_identity, identity_lr, "the identity is predicted fastest"
    gain = _gain(best, best_identity)
    if gain < margin_db:
        return best_identity, identity_lr, (
            f"{best.preset} gains only {gain:.2f} dB over the identity at equal probe steps (< {margin_db:g} dB)"
        )
    relative = identity_lr * best.lr / best_identity.lr
    lr = min(max(relative, lr_bounds[0]), lr_bounds[1])
    bounded = f", {relative:g} bounded to {lr_bounds[0]:g}-{lr_bounds[1]:g}" if lr != relative else ""
    return best, lr, (
        f"{best.preset} leads the identity by {gain:.2f} dB at equal probe steps "
        f"(best probe lr {best.lr:g} vs the identity's {best_identity.lr:g}: encode lr {lr:g}{bounded})"
    )


def _gain(arm: Arm, reference: Arm) -> float:
    steps = min(arm.steps, reference.steps)
    return _psnr_at(arm, steps) - _psnr_at(reference, steps)


def _psnr_at(arm: Arm, steps: int) -> float:
    for s, p in arm.curve:
        if s == steps:
            return p
    return max((p for s, p in arm.curve if s <= steps), default=float("-inf"))
