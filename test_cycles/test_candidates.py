"""Every candidate of every cycle in configs/cycles.yaml, as parametrized tests.

Test ids carry the cycle name (`syscall_prune-config-only`), so
`pytest -k syscall_prune` runs exactly that cycle. The session hook in
conftest.py then picks the smallest qualifying linux.axf.
"""

from __future__ import annotations

import json

from harness.results import update_result


def test_builds(cycle_runners, candidate, record_property):
    cycle, name = candidate
    built = cycle_runners[cycle].built(name)
    record_property("linux_axf_bytes", built.axf_bytes)
    for key, value in built.sizes.as_dict().items():
        record_property(f"section_{key}", value)
    assert built.axf.stat().st_size == built.axf_bytes > 0


def test_boots(cycle_runners, candidate, record_property):
    cycle, name = candidate
    report = cycle_runners[cycle].boot(name)
    for key, value in report.as_result().items():
        record_property(key, value)
    assert report.guest_shell_ready_ms is not None


def test_workload(cycle_runners, candidate, workload, record_property):
    cycle, name = candidate
    runner = cycle_runners[cycle]
    built = runner.built(name)
    failures = []
    try:
        session = runner.live(name)
        for step in workload.steps:
            res = session.run(step.command, step.timeout_s)
            if step.failure(res.output, res.status):
                failures.append(step.label)
                record_property(f"failed_{step.label}", res.output[-500:])
    finally:
        runner.close_sessions(name)
    update_result(built.results, workload_passed=not failures, workload_failures=failures)
    record_property("workload_passed", not failures)
    assert not failures, f"{cycle}/{name}: workload steps failed: {', '.join(failures)}"


def test_no_regression(cycle_runners, derived_candidate, record_property):
    cycle, name = derived_candidate
    runner = cycle_runners[cycle]
    rule = runner.cycle.regression
    base = runner.metric(runner.cycle.baseline)
    mine = runner.metric(name)
    ok = rule.allows(base, mine)
    detail = (
        f"{rule.metric} {mine:.3f} ms vs baseline {base:.3f} ms (allowed +{rule.tolerance:.0%})"
    )
    update_result(
        runner.results(name),
        regression_ok=ok,
        regression_detail=detail,
        **{f"baseline_{rule.metric}": base},
    )
    record_property("regression", detail)
    assert ok, f"{cycle}/{name} boots slower: {detail}"


def test_enosys_tripwire(cycle_runners, pruned_candidate, record_property):
    """Run the workload on the pruned kernel, traced: no pruned syscall may be called."""
    cycle, name = pruned_candidate
    runner = cycle_runners[cycle]
    pruned = runner.prune().pruned
    entry = runner.profile(name, runner.cycle.selector)
    called = json.loads(entry.file("profile.json").read_text())["syscalls"]
    hit = sorted(f"{pruned[int(nr)]} ({nr}) x{n}" for nr, n in called.items() if int(nr) in pruned)
    update_result(
        runner.results(name),
        enosys_ok=not hit,
        enosys_called=hit,
        enosys_syscalls_traced=len(called),
    )
    record_property("enosys_called", ", ".join(hit) or "none")
    assert called, "the tripwire trace saw no syscalls at all"
    assert not hit, f"{cycle}/{name} called pruned syscalls (they return -ENOSYS): {', '.join(hit)}"
