"""Targets side by side: a run on one target leaves another target's results alone."""

from __future__ import annotations

import json

from harness.core.paths import results_dir


def test_this_run_writes_under_its_own_target_only(target, cycle_runners, kqual_run):
    """Every candidate of this run keeps its results and build under its target's name;
    another target's summaries, when present, were written by other runs."""
    from harness.image.candidate import build_folder

    run_id = kqual_run.run_id
    own = results_dir() / target.name
    for runner in cycle_runners.values():
        for c in runner.cycle.candidates:
            assert runner.results(c.name).is_relative_to(own)
            assert build_folder(target, runner.build_name(c.name)).parent.name == target.name
    others = [p for p in results_dir().iterdir() if p.is_dir() and p.name != target.name]
    for other in others:
        for record in other.glob("*/*/result.json"):
            assert json.loads(record.read_text())["run_id"] != run_id, record
