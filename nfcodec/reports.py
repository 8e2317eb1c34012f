"""What an encode reports: per-stage quality and bytes (`StageReport`) and the whole result
(`EncodeResult`, with its `--json` form)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from . import container
from .search import SearchResult
from .stages import StageWriter


@dataclass
class StageReport:
    index: int
    width: int
    params: int  # parameters decoded at this width (stages 1..k)
    new_params: int
    bytes: int  # size of this stage's chunk, framing included
    prefix_bytes: int  # bytes from the start of the file through this stage
    psnr: float  # dB of the decoded stage against the input (NaN where the modality has no PSNR)
    # dB of the last training step (the batch, before quantisation, on the transformed signal):
    # what --target-psnr is compared with
    train_psnr: float
    steps: int
    seconds: float
    # the part of the signal this width covers, [start, stop) per axis (temporal growth: the
    # frames); None: all of it. PSNR is measured over exactly this part.
    extent: list[list[int]] | None = None
    # every quality number the modality measures (a shape: Chamfer, normal consistency, ...)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class EncodeResult:
    data: bytes = field(repr=False)
    modality: str
    arch: str
    transform: dict[str, Any]
    stages: list[StageReport]
    seconds: float
    pixels: int
    output: str | None = None
    transform_preset: str = "identity"
    search: SearchResult | None = None
    raw_bytes: int = 0  # the signal's samples at their bit depth, uncompressed
    warnings: list[str] = field(default_factory=list)  # diagnostics.py: one line each
    rate: float = float("nan")  # the file in the modality's rate unit
    rate_unit: str = "bpp"
    conventions: dict[str, str] = field(default_factory=dict)  # how each quality number is measured

    @property
    def bpp(self) -> float:
        return len(self.data) * 8 / self.pixels

    @property
    def raw_bpp(self) -> float:
        return self.raw_bytes * 8 / self.pixels

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "bytes": len(self.data),
            **({"bpp": round(self.bpp, 5)} if self.rate_unit == "bpp" else {"rate": round(self.rate, 5), "rate_unit": self.rate_unit}),
            "modality": self.modality,
            "arch": self.arch,
            "transform": {
                "id": self.transform["id"],
                "name": self.transform["name"],
                "preset": self.transform_preset,
                "params": self.transform["params"],
            },
            "seconds": round(self.seconds, 3),
            **({"search": self.search.to_json()["rows"], "search_summary": _summary(self.search)} if self.search else {}),
            "stages": [_stage_json(s) for s in self.stages],
            "conventions": dict(self.conventions),
            "warnings": list(self.warnings),
        }


def _round_finite(value: float, digits: int = 4) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


def _stage_json(stage: StageReport) -> dict[str, Any]:
    out = asdict(stage) | {"train_psnr": _round_finite(stage.train_psnr), "seconds": round(stage.seconds, 3)}
    if "psnr" not in stage.metrics:  # a modality without PSNR (shapes) reports its metrics only
        del out["psnr"]
        out["metrics"] = {k: _round_finite(v, 8) for k, v in stage.metrics.items()}
        return out
    del out["metrics"]
    return out | _psnr_json(stage.psnr)


def _psnr_json(value: float) -> dict[str, Any]:
    # JSON has no infinity: an exact reconstruction is null with the reason beside it
    if math.isinf(value) and value > 0:
        return {"psnr": None, "psnr_note": "lossless: the decoded signal equals the input"}
    return {"psnr": _round_finite(value)}


def _summary(result: SearchResult) -> dict[str, Any]:
    return {k: v for k, v in result.to_json().items() if k != "rows"}



def stage_reports(writer: StageWriter, data: bytes) -> list[StageReport]:
    """One report per stage of the assembled file `data`, from what the writer measured."""
    header = container.read_header(data)
    return [
        StageReport(
            index=k, width=spec.width, params=header.params_at(k), new_params=spec.new_params,
            bytes=spec.chunk.length + container.CHUNK_OVERHEAD, prefix_bytes=header.prefix_bytes(k),
            psnr=writer.quality[k - 1].get("psnr", float("nan")), train_psnr=fit.batch_psnr, steps=fit.steps,
            seconds=fit.seconds, extent=None if spec.extent is None else [list(pair) for pair in spec.extent],
            metrics=dict(writer.quality[k - 1]),
        )
        for k, (spec, fit) in enumerate(zip(header.stages, writer.fits), start=1)
    ]
