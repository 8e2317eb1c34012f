"""`report.html`: the plots and the tables of a batch report, one self-contained page (the
figures beside it, linked relatively, so the folder can be copied or served as it is)."""
from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..fsutil import atomic_write

STYLE = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}"
         "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
         "td:first-child,th:first-child{text-align:left}tr.failed td{background:#fee}img{max-width:100%}"
         "h2{margin-top:2em}code{background:#f4f4f4;padding:1px 4px}")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.{digits}f}"
    return "-" if value is None else _e(value)


def _table(headers: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(f"<tr class='{c}'>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row, c in zip(rows, classes or [""] * len(rows)))
    return f"<table><tr>{head}</tr>{body}</table>"


def _curve_table(curves: list[Any], headline: str) -> str:
    rows = [[_e(c.label), _e(note), _num(x), _num(y, 4)] for c in curves for (x, y), note in zip(c.points, c.notes)]
    return _table(["codec", "point", "mean rate", f"mean {headline}"], rows)


def _input_table(report: dict[str, Any]) -> str:
    rows, classes = [], []
    for r in report["inputs"]:
        if r["status"] == "ok":
            stages = " / ".join(_num(s["quality"].get(r["headline"]), 2 if r["headline"] == "psnr" else 6) for s in r["stages"])
            rows.append([_e(r["input"]), _e(r["modality"]), _e(r.get("transform", "")), _num(r["seconds"], 1), _e(r["bytes"]),
                         f"{_num(r['rate'])} {_e(r['rate_unit'])}", f"{_e(r['headline'])}: {stages}", ""])
            classes.append("")
        else:
            rows.append([_e(r["input"]), _e(r.get("modality", "")), "", _num(r.get("seconds"), 1), "", "", "", _e(r.get("error", ""))])
            classes.append("failed")
    return _table(["input", "modality", "transform", "seconds", "bytes", "rate", "quality per width", "error"], rows, classes)


def write_html(destination: Path, reports: list[tuple[Path, dict[str, Any]]], curves: dict[str, list[Any]], figures: list[Path],
               skipped: dict[str, str]) -> Path:
    first = reports[0][1]
    summary = first["summary"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>nfc batch report</title><style>{STYLE}</style></head><body>",
             f"<h1>Batch report: {summary['ok']} of {summary['inputs']} inputs encoded, {summary['failed']} failed</h1>",
             "<p>Presets: " + ", ".join(f"<code>{_e(d)}</code>" for d, _ in reports) + ". Each curve is the mean over the inputs "
             "(ours: one point per decodable width of one file; classic codecs: one point per quality setting, the same on every "
             "input). Quality is measured the same way for every codec.</p>"]
    for modality, modality_curves in curves.items():
        headline = summary["modalities"][modality]["headline"]
        parts.append(f"<h2>{_e(modality)}</h2>")
        for stem in (f"rd_{modality}", f"stages_{modality}"):
            if any(f.name == stem + ".svg" for f in figures):
                parts.append(f"<p><a href='{_e(stem)}.png'><img src='{_e(stem)}.svg' alt='{_e(stem)}'></a></p>")
        parts.append(_curve_table(modality_curves, headline))
    if skipped:
        parts.append("<h2>Not measured</h2><ul>" + "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in sorted(skipped.items())) + "</ul>")
    parts.append("<h2>Inputs</h2>" + _input_table(first))
    home = os.path.relpath(reports[0][0], destination)  # the first batch's reports, seen from the page
    links = ", ".join(f"<a href='{_e(quote(Path(home, name).as_posix()))}'>{name}</a>" for name in ("report.csv", "report.json", "summary.md"))
    parts.append(f"<p>Tables: {links}, <a href='compare.json'>compare.json</a>.</p></body></html>\n")
    return atomic_write(destination / "report.html", "\n".join(parts).encode())
