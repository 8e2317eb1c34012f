"""Finalising trained stages: quantise what a stage added, snap the field to the stored values
(later stages train against exactly what a decoder reconstructs) and measure the decoded
signal, so the reported quality is the file's.

Two codings: the plain one (f16 / q8 / q16 tensors, zstd; the architecture's storage
defaults) and the entropy-coded one (qe tensors, formats/nff.md 6.4) that rate control uses,
whose steps are chosen so the stage lands on its target (ratecontrol.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import torch

from . import container
from .diagnostics import format_quality
from .modalities import Modality, Signal
from .container.tensors import quantise
from .presets import ARCH_DEFAULTS, quant_step, storage_dtype
from .progress import Progress
from .ratecontrol import CODED_DTYPE, SIZE_TOLERANCE, choose_weight_steps, coded_bytes, land_table, stage_budget, stage_target
from .train import StageFit
from .train.loop import Loss
from .train.quantisation import RateController, RateTarget, Schedule, TableQuantiser, initial_lambda, rate_distortion_loss
from .train.samplers import Sampler
from .transforms import Transform


@dataclass
class CodingPlan:
    """How an entropy-coded encode trains and codes its stages."""

    prefix_bytes: list[int] | None  # bytes of the file through each stage (size goals)
    psnr: float | None  # the quality goal, dB (else None)
    header_bytes: int  # estimated bytes before the first stage (the last stage absorbs the error)
    table_step: float  # the table's quantisation step while training
    points: int  # the signal's points: rate terms are bits per point
    steps: int  # training steps per stage
    fast: bool = False  # fewer candidate steps when coding (--effort fast)
    trained_psnr_offset: float = 0.0  # dB to add to an original-domain PSNR (a transform's scale)


class StageWriter:
    def __init__(self, modality: Modality, signal: Signal, geometry: Any, transform: Transform, field_model: Any,
                 config: Any, device: torch.device, progress: Progress, extents: list[Any], plan: CodingPlan | None = None):
        self.modality, self.signal, self.geometry, self.transform = modality, signal, geometry, transform
        self.extents = extents
        self.field, self.config, self.device, self.progress = field_model, config, device, progress
        defaults = {**ARCH_DEFAULTS[config.arch], **modality.field_defaults(config.arch)}
        self.dtype = config.dtype or defaults["dtype"]
        self.step_sigma = defaults.get("step_sigma", {})
        self.plan = plan
        self.controllers: dict[int, RateController] = {}
        self.quantisers: dict[int, TableQuantiser] = {}
        self.targets: dict[int, RateTarget] = {}
        self.eval_batches: dict[int, Any] = {}
        self.encoded: list[container.EncodedStage] = []
        self.fits: list[StageFit] = []
        self.quality: list[dict[str, float]] = []
        self.prefreeze: dict[int, dict[str, np.ndarray]] = {}  # stage tensors when their table codes were chosen
        self.frozen_steps: dict[int, dict[str, float]] = {}  # the steps a stage's table codes were chosen with

    # ---- training side (entropy-coded encodes) -------------------------------------------

    def stage_loss(self, distortion: Loss, sampler_for: Callable[[int], Sampler]) -> Callable[[int], Loss]:
        """Stage k's training loss: distortion alone (plain coding), or with the rate term and
        its controller, the field reading its new table entries quantised."""
        plan = self.plan

        def loss_for(stage: int) -> Loss:
            if plan is None:
                return distortion
            target = self.target(stage)
            self.targets[stage] = target
            weights = sum(v.size for n, v in self.field.stage_tensors(stage).items() if n != "table")
            controller = RateController(target, initial_lambda(target, plan.points), fixed_bits=7.0 * weights)
            self.controllers[stage] = controller
            generator = torch.Generator().manual_seed(self.config.seed * 1000 + stage)
            self.eval_batches[stage] = sampler_for(stage).batch(torch.Generator().manual_seed(self.config.seed + 7919 * stage))
            segments = self.field.coded_segments(stage)
            if not segments:
                return distortion
            quantiser = TableQuantiser(plan.table_step, segments, generator)
            self.quantisers[stage] = quantiser
            return rate_distortion_loss(distortion, quantiser, controller, plan.points, Schedule(plan.steps), self.freeze)

        return loss_for

    # ---- finalising ----------------------------------------------------------------------

    def target(self, stage: int) -> RateTarget:
        plan = self.plan
        spent = plan.header_bytes + sum(len(e.payload) + container.CHUNK_OVERHEAD for e in self.encoded)
        # the controller compares the goal with batches of the trained (transformed) signal
        psnr = None if plan.psnr is None else plan.psnr + plan.trained_psnr_offset
        return stage_target(plan.prefix_bytes, psnr, stage, spent)

    def finalise(self, stage: int, fit: StageFit) -> None:
        extent = self.extents[stage - 1]
        if self.plan is None:
            enc = self._plain(stage, extent)
        else:
            self.field.set_quantiser(None)  # what follows reads the stored values
            enc = self._coded(stage, extent, stage_budget(self.targets[stage]))
        self.field.load_stage_tensors(stage, enc.decoded)
        self.encoded.append(enc)
        self.fits.append(fit)
        self.quality.append(self.measure(stage))
        self.progress.message(f"stage {stage}/{len(self.field.widths)}: width {self.field.widths[stage - 1]}, {fit.steps} steps, "
                              f"{fit.seconds:.1f} s, {len(enc.payload)} bytes, {format_quality(self.quality[-1], self.modality.headline)} decoded")

    def measure(self, stage: int) -> dict[str, float]:
        extent = self.extents[stage - 1]
        geometry = self.modality.quality_geometry(self.geometry)
        blocks = self.modality.render(self.field, self.transform, geometry, stage, self.device, extent)
        return self.modality.quality(self.signal, blocks, extent)

    def _plain(self, stage: int, extent: Any) -> container.EncodedStage:
        tensors = self.field.stage_tensors(stage)
        dtypes = {n: storage_dtype(self.dtype, n) for n in tensors}
        data = container.StageData(self.field.widths[stage - 1], [(n, v, dtypes[n]) for n, v in tensors.items()], extent=extent)
        steps_by_name = {n: quant_step(self.step_sigma, n, v, dtypes[n]) for n, v in tensors.items()}
        return container.encode_stage(data, self.config.compression, steps_by_name)

    def freeze(self, field: Any, stage: int) -> None:
        """Choose the codes of stage `stage`'s table now (landed on the stage's bytes or
        quality with the weights as they are) and have the field read exactly them from now
        on: the rest of the stage fits the MLP to what the file will hold."""
        quantiser = self.quantisers[stage]
        field.set_quantiser(None)
        tensors = field.stage_tensors(stage)
        self.prefreeze[stage] = tensors
        steps, coded = self._choose(stage, tensors, stage_budget(self.targets[stage]))
        _, _, table = quantise(coded["table"], CODED_DTYPE, steps["table"])
        self.frozen_steps[stage] = steps
        quantiser.freeze(torch.from_numpy(table).reshape(-1))
        field.set_quantiser(quantiser)

    def _coded(self, stage: int, extent: Any, budget: int | None) -> container.EncodedStage:
        """Entropy-coded tensors: the frozen table codes (or, without a frozen table, the
        table landed now) and weight steps by rate-distortion cost."""
        quantiser = self.quantisers.get(stage)
        tensors = self.field.stage_tensors(stage)
        if quantiser is not None and quantiser.frozen is not None:
            coded = {**tensors, "table": quantiser.frozen.numpy().reshape(tensors["table"].shape)}
            steps = choose_weight_steps(coded, self.frozen_steps[stage]["table"], self.controllers[stage].lam, self.plan.points,
                                        self._evaluator(stage, tensors), self.plan.fast)
            if budget is not None and coded_bytes(coded, steps)[0] > budget:
                steps = self.frozen_steps[stage]  # the steps the stage landed with
        else:
            steps, coded = self._choose(stage, tensors, budget)
        self.field.load_stage_tensors(stage, tensors)
        data = container.StageData(self.field.widths[stage - 1], [(n, v, CODED_DTYPE) for n, v in coded.items()], extent=extent)
        return container.encode_stage(data, "none", steps)

    def _choose(self, stage: int, tensors: dict[str, np.ndarray], budget: int | None) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Steps (weights by rate-distortion cost, then the table landed on `budget` or the
        quality goal) and the values to code."""
        plan = self.plan
        evaluate = self._evaluator(stage, tensors)
        quantiser = self.quantisers.get(stage)
        table_step = quantiser.step if quantiser is not None else plan.table_step
        steps = choose_weight_steps(tensors, table_step, self.controllers[stage].lam, plan.points, evaluate, plan.fast)
        target = self.targets[stage]
        meets = None
        if target.psnr is not None:  # already in the trained domain (target())
            goal_mse = 10 ** (-target.psnr / 10)
            meets = lambda decoded: evaluate(decoded) <= goal_mse  # noqa: E731
        return land_table(tensors, steps, budget, meets)

    def land_on_size(self, assemble: Callable[[], bytes], data: bytes, file_bytes: int) -> bytes:
        """The file again with its last stage re-coded for the bytes the rest leaves (the
        header's exact size is known only now), when `data` missed [95%, 100%] of its size."""
        if (1 - SIZE_TOLERANCE) * file_bytes <= len(data) <= file_bytes:
            return data
        rest = len(data) - len(self.encoded[-1].payload)
        slack = 16  # the header's "bytes" and step entries may grow by a few bytes
        self.recode_last(max(8, file_bytes - rest - slack))
        return assemble()

    def recode_last(self, budget: int) -> None:
        """Code the last stage again for `budget` bytes of tensors (the exact header size is
        known once every other stage is coded; nothing depends on the last stage): its table
        landed again from its values before freezing, with the fitted weights."""
        stage = len(self.encoded)
        self.field.load_stage_tensors(stage, self.encoded[-1].decoded)
        tensors = self.field.stage_tensors(stage)
        if stage in self.prefreeze:
            tensors["table"] = self.prefreeze[stage]["table"]
        steps, coded = self._choose(stage, tensors, budget)
        data = container.StageData(self.field.widths[stage - 1], [(n, v, CODED_DTYPE) for n, v in coded.items()],
                                   extent=self.extents[stage - 1])
        enc = container.encode_stage(data, "none", steps)
        self.field.load_stage_tensors(stage, enc.decoded)
        self.encoded[-1] = enc
        self.quality[-1] = self.measure(stage)

    def _evaluator(self, stage: int, trained: Mapping[str, np.ndarray]) -> Callable[[Mapping[str, np.ndarray]], float]:
        """Distortion (the modality's loss) of the field at `stage` with decoded tensors, on a
        fixed batch; the trained tensors are put back after each call."""
        batch = self.eval_batches[stage]
        distortion = self.modality.loss(self.config.arch)

        def evaluate(decoded: Mapping[str, np.ndarray]) -> float:
            self.field.load_stage_tensors(stage, decoded)
            with torch.no_grad():
                value = float(distortion(self.field, batch, stage))
            self.field.load_stage_tensors(stage, trained)
            return value if math.isfinite(value) else math.inf

        return evaluate
