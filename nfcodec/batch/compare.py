"""`nfc report`: a batch's inputs through the classic codecs of their modality (nfcodec.baselines)
at several qualities, measured like our stages, then rate-distortion curves, per-stage quality
bars and an HTML page.

Every OUTDIR given is one preset (one batch's options): its curve is the mean rate and mean
headline quality of its inputs at each decodable width, every stage marked. A classic codec's
curve is one point per quality setting, the same setting on every input, averaged over the
same inputs. Results are cached in `compare.json` beside the report (keyed by the input's
content hash and read options), so a rerun only measures what is new.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NfcError
from ..fsutil import atomic_write
from ..jsonutil import json_safe
from .inputs import file_sha256
from .report import read_report

COMPARE_JSON = "compare.json"
COMPARE_SCHEMA_VERSION = 1
CACHE_SAVE_INTERVAL = 10.0  # seconds between saves of compare.json while measuring


@dataclass
class Curve:
    label: str
    kind: str  # "ours" (a preset: one point per stage) or "classic" (one point per setting)
    codec: str  # "nfc" or the classic codec's registry name
    points: list[tuple[float, float]]  # (mean rate, mean headline quality)
    notes: list[str] = field(default_factory=list)  # per point: "w1" ... or the setting
    inputs: int = 0


@dataclass
class ReportPage:
    destination: Path
    curves: dict[str, list[Curve]]  # modality -> curves
    files: list[Path]
    skipped: dict[str, str]  # codec or input -> why it was not measured


def make_report(outdirs: list[Path], destination: Path, codecs: list[str] | None = None, show_progress: bool = True) -> ReportPage:
    """Compare, plot and write report.html into `destination` (default: the first OUTDIR)."""
    from .html import write_html
    from .plots import rd_plot, stage_bars

    reports = [(Path(d), read_report(Path(d))) for d in outdirs]
    first = reports[0][1]
    cache = _load_cache(destination)
    skipped = _run_baselines(first, cache, destination, codecs, show_progress)
    curves: dict[str, list[Curve]] = {}
    files: list[Path] = []
    for modality in sorted(first["summary"]["modalities"]):
        compared = _common_inputs(cache, modality, codecs)
        curves[modality] = [_our_curve(d, r, modality, compared) for d, r in reports] + _classic_curves(cache, modality, compared)
        curves[modality] = [c for c in curves[modality] if c.points and (c.kind == "ours" or not codecs or c.codec in codecs)]
        headline = first["summary"]["modalities"][modality]["headline"]
        unit = first["summary"]["modalities"][modality]["rate_unit"]
        files += rd_plot(curves[modality], destination / f"rd_{modality}", modality, headline, unit)
        files += stage_bars([r for r in first["inputs"] if r["status"] == "ok" and r["modality"] == modality],
                            destination / f"stages_{modality}", modality, headline)
    files.append(write_html(destination, reports, curves, files, skipped))
    return ReportPage(destination, curves, files, skipped)


def _common_inputs(cache: dict[str, Any], modality: str, codecs: list[str] | None) -> set[str]:
    """The inputs every classic codec that ran on this modality covered at every setting: all
    curves average over the same inputs (a codec that skips 16-bit images would otherwise be
    compared on other images than ours)."""
    entries = [e for e in cache.values() if e["modality"] == modality and e.get("points")]
    ran = {p["codec"] for e in entries for p in e["points"] if not codecs or p["codec"] in codecs}
    covered = {e["input_sha256"] for e in entries}
    for codec in ran:
        covered &= {e["input_sha256"] for e in entries if {p["setting"] for p in e["points"] if p["codec"] == codec} >= _settings(codec)}
    return covered


def _settings(codec: str) -> set[float]:
    from ..baselines import BASELINES

    return set(BASELINES[codec].settings)


def _cache_key(row: dict[str, Any], read_options: dict[str, Any]) -> str:
    return row["input_sha256"] + ":" + json.dumps(read_options, sort_keys=True)


def _load_cache(destination: Path) -> dict[str, Any]:
    try:
        data = json.loads((destination / COMPARE_JSON).read_text())
    except (OSError, ValueError):
        return {}
    return data.get("inputs", {}) if isinstance(data, dict) and data.get("schema_version") == COMPARE_SCHEMA_VERSION else {}


def _save_cache(destination: Path, cache: dict[str, Any]) -> None:
    body = {"schema_version": COMPARE_SCHEMA_VERSION, "inputs": json_safe(cache)}
    atomic_write(destination / COMPARE_JSON, (json.dumps(body, indent=1, sort_keys=True, allow_nan=False) + "\n").encode())


def _run_baselines(report: dict[str, Any], cache: dict[str, Any], destination: Path, codecs: list[str] | None,
                   show_progress: bool) -> dict[str, str]:
    """Every ok input of the report through its modality's classic codecs (cached)."""
    from ..baselines import BASELINES, baselines_for
    from ..codec import EncodeConfig, read_options
    from ..modalities import modality as modality_named
    from ..progress import Progress

    rows = [r for r in report["inputs"] if r["status"] == "ok"]
    config = EncodeConfig(**{k: v for k, v in report["options"].items() if k in EncodeConfig.__dataclass_fields__})
    progress = Progress(enabled=show_progress)
    progress.start("classic codecs", len(rows))
    skipped: dict[str, str] = {}
    saved = time.monotonic()
    for done, row in enumerate(rows, start=1):
        kind = modality_named(row["modality"])
        options = read_options(kind, config)
        key = _cache_key(row, options)
        entry = cache.get(key)
        names = None if codecs is None else [n for n in codecs if BASELINES[n].modality == kind.name]
        wanted = set(names if names is not None else [b.name for b in baselines_for(kind.name)])
        if wanted and (entry is None or not wanted <= set(entry.get("codecs", []))):
            entry = _measure(row, kind, options, names)
            cache[key] = entry
            if time.monotonic() - saved > CACHE_SAVE_INTERVAL:  # resumable, without rewriting it per input
                _save_cache(destination, cache)
                saved = time.monotonic()
        entry = entry or {}
        skipped.update(entry.get("skipped", {}))
        if entry.get("error"):
            skipped[row["input"]] = entry["error"]
        progress.update(done, row["input"])
    progress.finish()
    _save_cache(destination, cache)
    return skipped


def _measure(row: dict[str, Any], kind: Any, options: dict[str, Any], codecs: list[str] | None) -> dict[str, Any]:
    from ..baselines import sweep

    entry: dict[str, Any] = {"input": row["input"], "input_sha256": row["input_sha256"], "modality": row["modality"], "points": []}
    source = Path(str(row.get("source", "")))
    start = time.perf_counter()
    try:
        if not source.is_file() or file_sha256(source) != row["input_sha256"]:
            raise NfcError(f"{row['input']}: the input is no longer at {source} as it was encoded")
        points, skipped = sweep(row["modality"], kind.read(source, options), names=codecs)
    except NfcError as exc:
        entry["error"] = str(exc)
        return entry
    entry.update(points=[p.to_json() for p in points], skipped=skipped, codecs=sorted({p.codec for p in points} | set(skipped)),
                 seconds=round(time.perf_counter() - start, 3))
    return entry


def _mean(values: list[float]) -> float:
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _our_curve(outdir: Path, report: dict[str, Any], modality: str, compared: set[str]) -> Curve:
    """A preset's mean (rate, quality) per width over the inputs the classic codecs also ran on
    (all its inputs when none did)."""
    rows = [r for r in report["inputs"] if r["status"] == "ok" and r["modality"] == modality]
    rows = [r for r in rows if r["input_sha256"] in compared] or rows
    rows = [r for r in rows if all(isinstance(s["quality"].get(r["headline"]), (int, float)) for s in r["stages"])] or rows
    headline = rows[0]["headline"] if rows else "psnr"
    points, notes = [], []
    for k in range(min((len(r["stages"]) for r in rows), default=0)):
        points.append((_mean([r["stages"][k]["rate"] for r in rows]), _mean([r["stages"][k]["quality"].get(headline) for r in rows])))
        notes.append(f"w{k + 1}")
    return Curve(f"nfc: {preset_label(outdir, report)}", "ours", "nfc", points, notes, len(rows))


def preset_label(outdir: Path, report: dict[str, Any]) -> str:
    """A preset's name in legends: its folder and the options that differ from the defaults."""
    from dataclasses import asdict

    from ..codec import EncodeConfig

    defaults = json_safe(asdict(EncodeConfig()))
    changed = [f"{k}={v}" for k, v in sorted(report["options"].items()) if defaults.get(k, v) != v and v not in (None, {})]
    return str(outdir) + (f" ({', '.join(changed)})" if changed else "")


def _classic_curves(cache: dict[str, Any], modality: str, compared: set[str]) -> list[Curve]:
    from ..baselines import BASELINES

    curves = []
    entries = [e for e in cache.values() if e["modality"] == modality and e["input_sha256"] in compared]
    for name, baseline in BASELINES.items():
        if baseline.modality != modality:
            continue
        by_setting: dict[float, list[dict[str, Any]]] = {}
        for e in entries:
            for p in e["points"]:
                if p["codec"] == name:
                    by_setting.setdefault(p["setting"], []).append(p)
        headline = _headline(modality)
        ordered = [s for s in baseline.settings if s in by_setting] + sorted(set(by_setting) - set(baseline.settings))
        points = [(_mean([p["rate"] for p in by_setting[s]]), _mean([p["metrics"].get(headline) for p in by_setting[s]])) for s in ordered]
        curves.append(Curve(baseline.label, "classic", name, points, [f"{baseline.setting_name} {s:g}" for s in ordered],
                            max((len(v) for v in by_setting.values()), default=0)))
    return curves


def _headline(modality: str) -> str:
    from ..modalities import modality as modality_named

    return modality_named(modality).headline
