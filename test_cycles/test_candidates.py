"""Every candidate of every cycle in configs/cycles.yaml, as parametrized tests.

Test ids carry the cycle name (`syscall_prune-config-only`), so
`pytest -k syscall_prune` runs exactly that cycle. The session hook in
conftest.py then picks the smallest qualifying linux.axf.
"""

from __future__ import annotations

import pytest

from harness.boot.qemu import BootFailure
from harness.core.verdicts import StepName
from harness.kernel.syscall_table import NI, parse_syscall_table, syscall_names


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


def test_workload(cycle_runners, candidate, record_property):
    cycle, name = candidate
    failures = cycle_runners[cycle].run_workload(name)
    record_property("workload_passed", not failures)
    for f in failures:
        record_property(f"failed_{f.split(':', 1)[0]}", f[-500:])
    assert not failures, f"{cycle}/{name}: workload steps failed:\n" + "\n".join(failures)


def test_no_regression(cycle_runners, derived_candidate, record_property):
    cycle, name = derived_candidate
    ok, detail = cycle_runners[cycle].regression(name)
    record_property("regression", detail)
    assert ok, f"{cycle}/{name} boots slower: {detail}"


def test_where_boot_time_goes(cycle_runners, candidate, record_property):
    cycle, name = candidate
    tl = cycle_runners[cycle].boot_timeline(name)
    record_property("phases_ms", tl.phases)
    record_property("top_initcalls_us", [(c.name, c.usecs) for c in tl.top(10)])
    assert all(v >= 0 for v in tl.phases.values()), tl.phases
    names = {c.name for c in tl.initcalls}
    assert "populate_rootfs" in names, "the initramfs's unpacking is not among the initcalls"
    assert not any(n.startswith("0x") for n in names), "initcalls the System.map cannot name"
    assert tl.phases["unpack_initramfs"] > 0


def test_within_limits(cycle_runners, limited_candidate, record_property):
    cycle, name = limited_candidate
    ok, detail = cycle_runners[cycle].limits(name)
    record_property("limits", detail)
    assert ok, f"{cycle}/{name} is past its cycle's limits: {detail}"


def test_enosys_tripwire(cycle_runners, pruned_candidate, record_property):
    """Run the workload on the pruned kernel, traced: no pruned syscall may be called."""
    cycle, name = pruned_candidate
    ok, detail = cycle_runners[cycle].derived_check(name, StepName.ENOSYS)
    record_property("enosys_called", detail or "none")
    assert ok, f"{cycle}/{name}: {detail} (pruned syscalls return -ENOSYS)"


def pruned_table(runner, name):
    """The candidate's pruned syscall table, from its prune_syscalls derivation."""
    prune = next(d for d in runner.cycle.derivations(name) if d.name == "prune_syscalls")
    return prune.result(runner)


# Shell commands that make one syscall the workload does not: a person types
# them, and each needs the syscall named.
PROBES = {
    "umask": "mkdir -p /tmp/kqa/b",
    "chown32": "touch /tmp/kqa && cp -p /tmp/kqa /tmp/kqb",
    "lchown32": "ln -s /tmp /tmp/kqa && cp -a /tmp/kqa /tmp/kqb",
    "chdir": "cd /tmp && pwd",
}


def test_pruned_syscall_notice(cycle_runners, aggressive_candidate, record_property):
    """A command needing a syscall the candidate pruned gets the kernel's notice, by name."""
    cycle, name = aggressive_candidate
    runner = cycle_runners[cycle]
    names = syscall_names(runner.syscall_table())
    risky = {names[nr]: nr for nr in pruned_table(runner, name).reachable_pruned}
    probe = next((n for n in PROBES if n in risky), None)
    assert probe, f"no probe command for any of the pruned reachable syscalls {sorted(risky)}"
    # A second probe in the same step: both notices are that step's, the next
    # step is clean.
    second = next((n for n in PROBES if n in risky and n != probe), None)
    # The probes share paths under /tmp: clear them between the two.
    command = PROBES[probe] + (f"; rm -rf /tmp/kqa /tmp/kqb; {PROBES[second]}" if second else "")
    session = runner.live(name)
    try:
        with pytest.raises(BootFailure) as info:
            session.run(command)
        after = session.run("echo fine")
    finally:
        runner.close_sessions(name)
    message = runner.explain(info.value)
    record_property("pruned_notice", message)
    assert info.value.syscall == risky[probe]
    assert f"pruned syscall {probe} ({risky[probe]}) was called" in message
    assert f"pruned syscall {risky[probe]} called by" in str(info.value)
    if second:
        assert f"pruned syscall {risky[second]} called by" in info.value.detail
    assert (after.output, after.status) == ("fine\n", 0)


def test_keeps_every_reachable_syscall(cycle_runners, safe_pruned_candidate, record_property):
    """A safe pruned table keeps every syscall the userspace can call; its built table too."""
    cycle, name = safe_pruned_candidate
    runner = cycle_runners[cycle]
    runner.built(name)  # a candidate its derivations skip is skipped here too
    scan = runner.reachable()
    assert scan.complete, f"unresolved syscall sites: {sorted(scan.unresolved)[:5]}"
    built_table = {
        e.number: e.entry for e in parse_syscall_table(runner.results(name) / "syscall.tbl")
    }
    original = {e.number: e.entry for e in parse_syscall_table(runner.syscall_table())}
    implemented = {nr for nr in scan.numbers if original.get(nr) not in (None, NI)}
    assert implemented, "the scan found no implemented syscall at all"
    lost = sorted(nr for nr in implemented if built_table.get(nr) != original[nr])
    record_property("reachable_kept", len(implemented))
    assert not lost, f"{cycle}/{name} pruned syscalls the userspace can call: {lost}"
    assert not pruned_table(runner, name).reachable_pruned


def test_summary_bloat_is_the_kernels_bloat_o_meter(
    cycle_runners, derived_candidate, target, kqual_run
):
    """The summary's header for a candidate is, to the letter, the kernel script's output."""
    import subprocess
    import sys

    from harness.image.kernel_source import prepare_source
    from harness.report.bloat import bloat_tool
    from harness.report.selection import add_bloat, decide

    cycle, name = derived_candidate
    runner = cycle_runners[cycle]
    base, mine = runner.built(runner.cycle.baseline), runner.built(name)
    tree = prepare_source(target, mine.results).tree
    script = subprocess.run(
        [sys.executable, tree / "scripts" / "bloat-o-meter", "-p", target.cross]
        + [base.results / "vmlinux", mine.results / "vmlinux"],
        capture_output=True,
        text=True,
        check=True,
    )
    tool = bloat_tool(target)  # what the session hook gives the summary
    ours = tool(base.results / "vmlinux", mine.results / "vmlinux")
    assert sum(d for *_, d in ours.deltas) == int(ours.header.rsplit("(", 1)[1].rstrip(")"))
    # and the summary's own path: this run's decisions, through add_bloat
    root = mine.results.parent
    run = decide(runner.cycle, root, kqual_run.run_id)
    decisions = [d for d in run if d.candidate in (runner.cycle.baseline, name)]
    add_bloat(decisions, root, runner.cycle.baseline, tool)
    (mine_decision,) = [d for d in decisions if d.candidate == name]
    assert mine_decision.bloat == script.stdout.splitlines()[0]
    assert mine_decision.top_symbol_deltas == ours.deltas[:10]


def test_the_build_record_says_which_kernel_patches_applied(cycle_runners, target):
    """Our tree takes the whole series; the record (and so the summary) says so."""
    from harness.report.results import read_record
    from harness.settings.patches import read_series

    runner = next(iter(cycle_runners.values()))
    built = runner.built(runner.cycle.baseline)
    record = read_record(built.results)
    assert record is not None
    patches = record.get("kernel_patches")
    assert patches["applied"] == [e.path.name for e in read_series(target.kernel_patches)]
    assert patches["lost"] == [] and runner.source().has("user_fault_signal")
    assert record.get("kernel_version") == runner.source().version
