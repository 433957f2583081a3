"""A one-line progress bar on stderr, for big trees on a terminal only."""

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

    def update(self, changed: bool) -> None:
        self.done += 1
        self.changed += changed
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and self.done != self.total:
            return
        self._last = now
        filled = self.width * self.done // max(1, self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} files, {self.changed} changed")
        self.stream.flush()

    def clear(self) -> None:
        """Wipe the bar so a result line can be printed; the next update redraws it."""
        if self.enabled and self.done:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
