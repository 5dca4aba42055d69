"""The size_search cycle: one item per trial slot, so xdist spreads the trials.

Slot i runs the i-th trial: round 1's proposals (largest expected saving
first) on top of the search's base, then each later round's on top of the
round before's best; the candidate that derives `search` then carries what
the rounds accepted and goes through every candidate test (test_candidates.py) plus the
from-scratch rebuild of its minimal.config here.
"""

from __future__ import annotations

import pytest

from harness.core.verdicts import StepName
from harness.derive.search import size_search
from harness.search.trial import Verdict


def test_trial(cycle_runners, search_slot, record_property):
    cycle, slot = search_slot
    search = size_search(cycle_runners[cycle])
    outcome = search.trial(int(slot.split("-")[1]))
    if outcome is None:
        pytest.skip(f"{cycle}: the search ended before {slot} ({search.slots()} trials in round 1)")
    record_property("change", outcome.label)
    record_property("verdict", outcome.verdict)
    record_property("saved_bytes", outcome.saved_bytes)
    if outcome.verdict == Verdict.BUDGET:
        pytest.skip(f"{cycle}/{slot} ({outcome.label}): the time budget was spent")
    assert isinstance(outcome.verdict, Verdict)
    if outcome.accepted:  # smaller in its sections, or in linux.axf (a zImage)
        in_sections = sum(outcome.saved_sections.values()) if outcome.saved_sections else 0
        assert in_sections > 0 or (outcome.saved_bytes or 0) > 0, outcome
    else:
        assert outcome.detail, f"{outcome.label}: {outcome.verdict} without a reason"


def test_minimal_config_reproduces(cycle_runners, search_candidate, record_property):
    """minimal.config, merged over the target's config in a fresh folder, builds the same image."""
    cycle, name = search_candidate
    runner = cycle_runners[cycle]
    ok, detail = runner.derived_check(name, StepName.REPRODUCE)
    record_property("reproduced", detail)
    assert ok, f"{cycle}/{name}: {detail}"
    # minimal.patches names the tree's patches that minimal.config goes with
    import hashlib

    from harness.settings.patches import read_series

    listed = (runner.results(name) / "minimal.patches").read_text().splitlines()
    entries = [line.split("  ", 1) for line in listed if not line.startswith("#")]
    applied = runner.source().patch_facts["applied"]
    assert [n for _, n in entries] == applied
    series = {e.path.name: e.path for e in read_series(runner.env.target.kernel_patches)}
    for digest, n in entries:
        assert hashlib.sha256(series[n].read_bytes()).hexdigest() == digest
