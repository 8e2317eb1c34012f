"""A small progress bar on stderr: redraws in place on a terminal; in a log (a pipe, a file), one
line at most every few seconds while a task runs, so long work shows it is alive."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, enabled: bool = True, stream: TextIO | None = None, min_interval: float = 0.1,
                 log_interval: float = 5.0):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        # a terminal redraws often; a log gets a line only every log_interval seconds
        self.min_interval = min_interval if self._interactive else log_interval
        self._task, self._total, self._done, self._start, self._last = "", 0, 0, 0.0, 0.0
        self._postfix = ""

    def start(self, task: str, total: int) -> None:
        self._task, self._total, self._done = task, max(total, 1), 0
        self._start = self._last = time.perf_counter()
        self._postfix = ""

    def update(self, done: int, postfix: str = "") -> None:
        self._done, self._postfix = done, postfix
        now = time.perf_counter()
        if self.enabled and now - self._last >= self.min_interval:
            self._last = now
            self._draw(end="" if self._interactive else "\n")

    def finish(self, postfix: str = "") -> None:
        self._done = self._total
        if postfix:
            self._postfix = postfix
        if self.enabled and self._interactive:  # otherwise the caller's summary line suffices
            self._draw(end="\n")

    def message(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def _draw(self, end: str) -> None:
        fraction = self._done / self._total
        filled = int(fraction * 24)
        bar = "#" * filled + "-" * (24 - filled)
        elapsed = time.perf_counter() - self._start
        line = f"{self._task} [{bar}] {self._done}/{self._total} {elapsed:5.1f}s {self._postfix}"
        prefix = "\r" if self._interactive else ""
        print(prefix + line + ("\x1b[K" if self._interactive else ""), end=end, file=self.stream, flush=True)


SILENT = Progress(enabled=False)
