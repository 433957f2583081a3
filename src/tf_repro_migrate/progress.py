"""A one-line progress bar on stderr, for big trees on a terminal only.

The bar stays on screen: it is redrawn in place at most ten times a second, wiped only
for the moment a result line is printed to the same terminal and redrawn right after
it, and the final state is left on its own line when the run ends.
"""

from __future__ import annotations

import time
from typing import TextIO

MIN_FILES = 300  # smaller runs finish before a bar is worth drawing


class Progress:
    def __init__(self, stream: TextIO, total: int, enabled: bool, width: int = 30):
        self.stream = stream
        self.total = total
        self.enabled = enabled and total >= MIN_FILES
        self.width = width
        self.done = 0
        self.changed = 0
        self._last = 0.0
        self._shown = False

    def update(self, changed: bool) -> None:
        """Count one more file; redraw when the last drawing is older than 0.1 s (or is wiped)."""
        self.done += 1
        self.changed += changed
        if not self.enabled:
            return
        now = time.monotonic()
        if self._shown and now - self._last < 0.1 and self.done != self.total:
            return
        self._last = now
        self._draw()

    def _draw(self) -> None:
        filled = self.width * self.done // max(1, self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} files, {self.changed} changed\033[K")
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Wipe the bar so a result line can be printed on the same terminal; the next update
        redraws it at once."""
        if self.enabled and self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = False

    def close(self) -> None:
        """Leave the final state of the bar on its own line."""
        if self.enabled and self.done:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
