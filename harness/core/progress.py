"""Progress lines on the terminal, past pytest's output capture.

Long steps must be visible while they run. By default a line goes to the
process's stderr; under pytest, conftest.py installs a writer that suspends
output capture for the line (set_writer), as pytest's live logging does.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable


def _stderr(line: str) -> None:
    stream = sys.__stderr__ or sys.stderr
    stream.write(line + "\n")
    stream.flush()


_writer: Callable[[str], None] = _stderr


def set_writer(writer: Callable[[str], None] | None) -> None:
    global _writer
    _writer = writer or _stderr


def say(message: str) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    prefix = f"[kqual {worker}]" if worker else "[kqual]"
    _writer(f"{prefix} {message}")


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
