"""Targets side by side: a run on one target leaves another target's results alone."""

from __future__ import annotations

import json
import os

from harness.core.paths import results_dir
from harness.report.results import cycle_dir


def test_this_run_writes_under_its_own_target_only(target, settings):
    """Every cycle of this run lives under results/<this target>/; another target's
    summaries, when present, were written by other runs and are never this run's."""
    run_id = os.environ["KQUAL_RUN_ID"]
    for name in settings.cycles:
        assert cycle_dir(target.name, name) == results_dir() / target.name / name
    others = [p for p in results_dir().iterdir() if p.is_dir() and p.name != target.name]
    for other in others:
        for summary in other.glob("*/summary.json"):
            assert json.loads(summary.read_text())["run_id"] != run_id, summary
