"""Helpers the cycle tests share."""

from __future__ import annotations

import pytest


def runner_with(cycle_runners, candidate: str):
    """The runner of the first cycle of this run that has `candidate` (else skip)."""
    found = [r for r in cycle_runners.values() if candidate in [c.name for c in r.cycle.candidates]]
    if not found:
        pytest.skip(f"no cycle of this run has a '{candidate}' candidate")
    return found[0]
