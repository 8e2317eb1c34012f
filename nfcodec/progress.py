"""A small progress bar on stderr: redraws in place on a terminal, a line per task otherwise."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, enabled: bool = True, stream: TextIO | None = None, min_interval: float = 0.1):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.min_interval = min_interval
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._task, self._total, self._done, self._start, self._last = "", 0, 0, 0.0, 0.0
        self._postfix = ""

    def start(self, task: str, total: int) -> None:
        self._task, self._total, self._done = task, max(total, 1), 0
        self._start = self._last = time.perf_counter()
        self._postfix = ""

    def update(self, done: int, postfix: str = "") -> None:
        self._done, self._postfix = done, postfix
        now = time.perf_counter()
        if self.enabled and self._interactive and now - self._last >= self.min_interval:
            self._last = now
            self._draw(end="")

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
