"""A one-line progress display for ``put``, redrawn in place on a terminal and absent everywhere else."""

from __future__ import annotations

import time
from typing import Optional, TextIO

BAR_WIDTH = 28
REDRAW_INTERVAL = 0.1  # seconds: often enough to look live, rarely enough to cost nothing


class Progress:
    """Shows records put and failed, the rate and, when the input size is known, a bar.

    Draws only when ``stream`` is a terminal, so piped or logged stderr stays clean. ``message``
    prints a line above the bar.
    """

    def __init__(self, stream: TextIO, total: Optional[int] = None) -> None:
        self.stream = stream
        self.total = total  # records (values given as arguments) or bytes (a file), as ``update``'s ``done``
        self.enabled = is_terminal(stream)
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._line = ""

    def update(self, done: int, put: int, failed: int, force: bool = False) -> None:
        """``done`` is how far through the input (as ``total``); ``put`` and ``failed`` count records."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and self._last_draw and now - self._last_draw < REDRAW_INTERVAL:
            return
        self._last_draw = now
        elapsed = max(now - self.started, 1e-9)
        parts = []
        if self.total:
            share = min(done / self.total, 1.0)
            filled = int(share * BAR_WIDTH)
            parts.append(f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%}")
        parts.append(f"{put:,} put")
        if failed:
            parts.append(f"{failed:,} failed")
        parts.append(f"{put / elapsed:,.0f}/s")
        self._draw("  ".join(parts))

    def message(self, text: str) -> None:
        """Print ``text`` on its own line (above the bar when one is shown)."""
        line = self._line
        self._draw("")
        print(text, file=self.stream, flush=True)
        if line:
            self._draw(line)

    def close(self) -> None:
        """Erase the bar, so what follows starts on a clean line."""
        self._draw("")

    def _draw(self, line: str) -> None:
        if not self.enabled or line == self._line:
            return
        padding = " " * max(len(self._line) - len(line), 0)
        self.stream.write(f"\r{line}{padding}\r{line}" if line else f"\r{padding}\r")
        self.stream.flush()
        self._line = line


def is_terminal(stream: object) -> bool:
    """Whether ``stream`` is an open terminal (False for pipes, files, closed or replaced streams)."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False
