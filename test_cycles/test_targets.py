"""Targets side by side: a run on one target leaves another target's results alone."""

from __future__ import annotations

import json

from harness.core.paths import results_dir


def test_this_run_writes_under_its_own_target_only(target, cycle_runners, kqual_run, baseline):
    """Every candidate of this run keeps its results and build under its target's name;
    another target's summaries, when present, were written by other runs."""
    run_id = kqual_run.run_id
    own = results_dir() / target.name
    assert baseline.kernel.folder.parent.name == target.name
    for runner in cycle_runners.values():
        for c in runner.cycle.candidates:
            assert runner.results(c.name).is_relative_to(own)
            built = runner.built_so_far().get(c.name)
            if built is not None:
                assert built.kernel.folder.parent.name == target.name
    others = [p for p in results_dir().iterdir() if p.is_dir() and p.name != target.name]
    for other in others:
        for record in other.glob("*/*/result.json"):
            assert json.loads(record.read_text())["run_id"] != run_id, record


def test_cycles_share_the_builds_of_the_same_candidates(cycle_runners):
    """syscall_prune, pgo and size_search derive baseline, config-only and
    syscall-prune the same way: one build folder and one image each, so one
    profile each (the profile cache is keyed by the image)."""
    names = ("baseline", "config-only", "syscall-prune")
    cycles = [c for c in ("syscall_prune", "pgo", "size_search") if c in cycle_runners]
    assert len(cycles) > 1, f"only {cycles} are declared"
    for name in names:
        builds = {c: cycle_runners[c].built(name) for c in cycles}
        assert len({b.kernel.folder for b in builds.values()}) == 1, builds
        assert len({b.fingerprint.digest for b in builds.values()}) == 1, name
