"""A batch's report: `report.json` (every input's row, the options, the means), `report.csv`
(one line per input) and `summary.md` (means per modality and stage, failures), written
atomically. Rows are sorted by input and hold no clock time, so a run that was killed and
resumed reports exactly what an uninterrupted one does, timings aside."""
from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write
from ..jsonutil import json_safe

REPORT_SCHEMA_VERSION = 1
REPORT_JSON, REPORT_CSV, SUMMARY_MD = "report.json", "report.csv", "summary.md"


def _mean(values: list[Any]) -> float | None:
    finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means per modality: bytes, rate, seconds and, per stage, rate and every quality number
    (over the inputs that have that stage; a lossless PSNR is left out of its mean and counted)."""
    out: dict[str, Any] = {"inputs": len(rows), "ok": sum(r["status"] == "ok" for r in rows),
                           "failed": sum(r["status"] != "ok" for r in rows), "modalities": {}}
    for name in sorted({r["modality"] for r in rows if r["status"] == "ok"}):
        ok = [r for r in rows if r["status"] == "ok" and r["modality"] == name]
        stages = []
        for k in range(max(len(r["stages"]) for r in ok)):
            at_k = [r["stages"][k] for r in ok if len(r["stages"]) > k]
            metrics = sorted({m for s in at_k for m in s["quality"]})
            stages.append({"width": k + 1, "inputs": len(at_k), "bytes": _mean([s["bytes"] for s in at_k]),
                           "rate": _mean([s["rate"] for s in at_k]),
                           "quality": {m: _mean([s["quality"].get(m) for s in at_k]) for m in metrics},
                           "lossless": sum(s["quality"].get("psnr") == "inf" for s in at_k)})
        out["modalities"][name] = {
            "inputs": len(ok), "headline": ok[0]["headline"], "rate_unit": ok[0]["rate_unit"],
            "bytes": _mean([r["bytes"] for r in ok]), "rate": _mean([r["rate"] for r in ok]),
            "seconds": _mean([r["seconds"] for r in ok]), "transforms": dict(sorted(Counter(r["transform"] for r in ok).items())),
            "stages": stages,
        }
    return out


def build_report(rows: list[dict[str, Any]], options: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    rows = sorted((json_safe(r) for r in rows), key=lambda r: r["input"])
    return {"schema_version": REPORT_SCHEMA_VERSION, "options": json_safe(options), "inputs": rows,
            "summary": summarise(rows), "run": json_safe(run)}


def write_reports(outdir: Path, report: dict[str, Any]) -> list[Path]:
    """report.json, report.csv and summary.md in `outdir`, each replaced atomically."""
    text = json.dumps(report, indent=1, sort_keys=True, allow_nan=False) + "\n"
    # file names that are not UTF-8 (surrogate-escaped by Python) keep their bytes in the CSV
    return [atomic_write(outdir / REPORT_JSON, text.encode()),
            atomic_write(outdir / REPORT_CSV, report_csv(report).encode(errors="surrogateescape")),
            atomic_write(outdir / SUMMARY_MD, summary_markdown(report).encode(errors="backslashreplace"))]


def read_report(outdir: Path) -> dict[str, Any]:
    from ..errors import InputError

    path = outdir / REPORT_JSON
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{outdir} holds no {REPORT_JSON}: run nfc batch ... -o {outdir} first") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable batch report: {exc}") from None
    if not isinstance(report, dict) or report.get("schema_version") != REPORT_SCHEMA_VERSION or not isinstance(report.get("inputs"), list):
        raise InputError(f"{path} is not a batch report this version reads")
    return report


def without_timings(report: dict[str, Any]) -> dict[str, Any]:
    """`report` without what differs between runs of the same batch (the seconds and the run's
    own description): two runs over the same inputs and options compare equal."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("seconds", "run")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(report)


def report_csv(report: dict[str, Any]) -> str:
    rows = report["inputs"]
    depth = max((len(r.get("stages", [])) for r in rows), default=0)
    header = ["input", "status", "modality", "transform", "seconds", "bytes", "rate", "rate_unit", "headline"]
    header += [f"{kind}_{k}" for k in range(1, depth + 1) for kind in ("rate", "quality")] + ["output", "input_sha256", "error"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        stages = r.get("stages", [])
        cells = [r["input"], r["status"], r.get("modality", ""), r.get("transform", ""), r.get("seconds", ""), r.get("bytes", ""),
                 r.get("rate", ""), r.get("rate_unit", ""), r.get("headline", "")]
        for k in range(depth):
            s = stages[k] if k < len(stages) else None
            cells += [s["rate"], s["quality"].get(r["headline"])] if s else ["", ""]
        writer.writerow(cells + [r.get("output", ""), r.get("input_sha256", ""), r.get("error") or ""])
    return buffer.getvalue()


def _fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def _cell(value: Any) -> str:
    """Text for a markdown table cell: no column breaks, one line."""
    return " ".join(str(value).replace("|", "\\|").split())


def summary_markdown(report: dict[str, Any]) -> str:
    summary, run = report["summary"], report.get("run", {})
    lines = [f"# Batch summary: {summary['ok']} of {summary['inputs']} inputs encoded, {summary['failed']} failed", ""]
    for name, m in summary["modalities"].items():
        lines += [f"## {name}: {m['inputs']} inputs", "",
                  f"Mean file: {_fmt(m['bytes'], 0)} bytes, {_fmt(m['rate'])} {m['rate_unit']}; mean encode {_fmt(m['seconds'], 1)} s; "
                  f"transforms: {', '.join(f'{t} x{n}' for t, n in m['transforms'].items())}.", "",
                  f"| width | inputs | mean bytes | mean {m['rate_unit']} | mean {m['headline']} |", "|---|---|---|---|---|"]
        lines += [f"| {s['width']} | {s['inputs']} | {_fmt(s['bytes'], 0)} | {_fmt(s['rate'])} | {_fmt(s['quality'].get(m['headline']), 4)}"
                  + (f" ({s['lossless']} lossless, left out)" if s["lossless"] else "") + " |" for s in m["stages"]]
        lines.append("")
    failures = [r for r in report["inputs"] if r["status"] != "ok"]
    if failures:
        lines += ["## Failures", "", "| input | error |", "|---|---|"]
        lines += [f"| {_cell(r['input'])} | {_cell(r.get('error', ''))} |" for r in failures]
        lines.append("")
    options = {k: v for k, v in report["options"].items() if not (v is None or v is False or v == {})}
    lines += ["## Options", "", "`" + json.dumps(options, sort_keys=True) + "`", ""]
    if run:
        lines += [f"Engine: {json.dumps(run.get('engine', {}), sort_keys=True)}; this run encoded {run.get('encoded', 0)}, "
                  f"reused {run.get('reused', 0)} from earlier runs, in {_fmt(run.get('seconds'), 1)} s.", ""]
    return "\n".join(lines)
