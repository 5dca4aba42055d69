"""Progress lines on the terminal, past pytest's output capture.

Long steps must be visible while they run, even when pytest captures output;
the real stderr of the process is the one place both a plain run and an xdist
worker's controller show.
"""

from __future__ import annotations

import os
import sys
import time


def say(message: str) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    prefix = f"[kqual {worker}]" if worker else "[kqual]"
    stream = sys.__stderr__ or sys.stderr
    stream.write(f"{prefix} {message}\n")
    stream.flush()


class Ticker:
    """Rate-limits heartbeat lines for a step that prints a lot."""

    def __init__(self, label: str, every_s: float = 15.0) -> None:
        self.label = label
        self.every_s = every_s
        self.start = time.monotonic()
        self._last = self.start

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def tick(self, latest: str) -> None:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            say(f"{self.label}: {self.elapsed:.0f}s, {latest.strip()[:100]}")
