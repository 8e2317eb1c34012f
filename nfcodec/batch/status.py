"""A batch's progress on stderr: an overall bar and one line per worker (what it encodes, its
stage and step), redrawn in place on a terminal; in a log, one line per finished input and a
status line every half minute."""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

LOG_INTERVAL = 30.0
REDRAW_INTERVAL = 0.2


class BatchStatus:
    def __init__(self, total: int, reused: int = 0, enabled: bool = True, stream: TextIO | None = None):
        self.total, self.done, self.failed, self.enabled = total, reused, 0, enabled
        self.stream = stream or sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.workers: dict[str, tuple[str, str, float]] = {}  # name -> (input, note, started)
        self._start = self._last_draw = self._last_log = time.perf_counter()
        self._drawn_lines = 0

    def job_started(self, worker: str, job: Any) -> None:
        self.workers[worker] = (job.relative, "starting", time.perf_counter())
        self._redraw()

    def worker_note(self, worker: str, note: str) -> None:
        if worker in self.workers:
            relative, _, started = self.workers[worker]
            self.workers[worker] = (relative, note, started)
        self._redraw()

    def job_finished(self, job: Any, row: dict[str, Any]) -> None:
        self.done += 1
        self.failed += row.get("status") != "ok"
        for name, (relative, _, _) in list(self.workers.items()):
            if relative == job.relative:
                del self.workers[name]
        if self.enabled and not self.interactive:
            self._print(f"[{self.done}/{self.total}] {job.relative}: {describe_row(row)}")
        self._redraw(force=True)

    def message(self, text: str) -> None:
        if self.enabled:
            self._clear()
            print(text, file=self.stream, flush=True)
            self._redraw(force=True)

    def tick(self) -> None:
        now = time.perf_counter()
        if self.enabled and not self.interactive and now - self._last_log >= LOG_INTERVAL:
            self._last_log = now
            running = "; ".join(f"{n}: {r} {note}" for n, (r, note, _) in sorted(self.workers.items()))
            self._print(f"{self._headline()}" + (f" | {running}" if running else ""))
        self._redraw()

    def close(self) -> None:
        if self.enabled and self.interactive:
            self._clear()
            self._print(self._headline())

    def _headline(self) -> str:
        elapsed = time.perf_counter() - self._start
        fraction = self.done / max(self.total, 1)
        bar = "#" * int(fraction * 24) + "-" * (24 - int(fraction * 24))
        failed = f", {self.failed} failed" if self.failed else ""
        return f"batch [{bar}] {self.done}/{self.total}{failed} {elapsed:6.1f}s"

    def _redraw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not (self.enabled and self.interactive) or (not force and now - self._last_draw < REDRAW_INTERVAL):
            return
        self._last_draw = now
        lines = [self._headline()] + [f"  {name:>6} {relative[:40]:<40} {note[:60]} ({now - started:.0f}s)"
                                      for name, (relative, note, started) in sorted(self.workers.items())]
        self._clear()
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn_lines = len(lines)

    def _clear(self) -> None:
        if self.interactive and self._drawn_lines:
            self.stream.write(f"\x1b[{self._drawn_lines}F\x1b[J")  # up to the first drawn line, erase below
            self._drawn_lines = 0

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def describe_row(row: dict[str, Any]) -> str:
    """One line about an input's outcome: bytes, rate and the last stage's headline quality."""
    if row.get("status") != "ok":
        return f"failed: {row.get('error')}"
    last = row["stages"][-1]["quality"].get(row["headline"])
    quality = f"{last:.2f} dB" if row["headline"] == "psnr" and isinstance(last, float) else f"{row['headline']} {last}"
    return f"{row['bytes']} bytes, {row['rate']:.3f} {row['rate_unit']}, {quality}, {row['seconds']:.1f} s"
