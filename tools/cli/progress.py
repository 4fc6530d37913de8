"""A progress line for long exports on a terminal: rows written, rows per second, elapsed time.

It is the pipeline's progress callback; off a terminal it stays silent and only the final summary
is printed, so logs and pipes get no carriage-return noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

_REDRAW_SECONDS = 0.2


def elapsed_text(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


class ProgressDisplay:
    def __init__(self, stream: TextIO, *, live: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._live = live
        self._clock = clock
        self._started = clock()
        self._last_draw = float("-inf")
        self._sheets: list[tuple[str, int]] = []
        self._width = 0

    @property
    def rows(self) -> int:
        return sum(rows for _, rows in self._sheets)

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def __call__(self, sheet: str, rows: int) -> None:
        if self._sheets and self._sheets[-1][0] == sheet:
            self._sheets[-1] = (sheet, rows)
        else:
            self._sheets.append((sheet, rows))
        now = self._clock()
        if self._live and now - self._last_draw >= _REDRAW_SECONDS:
            self._last_draw = now
            self._draw(sheet)

    def line(self, sheet: str) -> str:
        elapsed = self.elapsed
        rate = self.rows / elapsed if elapsed > 0 else 0.0
        return f"{sheet}: {self.rows:,} rows  {rate:,.0f} rows/s  {elapsed_text(elapsed)}"

    def _draw(self, sheet: str) -> None:
        text = self.line(sheet)
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def finish(self) -> None:
        """Draw the final count (the last redraw may be up to 0.2 s old) and end the line."""
        if self._live and self._sheets:
            self._draw(self._sheets[-1][0])
            self._stream.write("\n")
            self._stream.flush()
