"""Faults during a run: each must leave no orphan QEMU, no partial cache entry and
no wrong selection. Real builds and real QEMU, in cycles the tests declare."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal

import pytest

from harness.boot.qemu import BootFailure
from harness.core.errors import KqualError
from harness.cycle_run import CycleRunner, Environment
from harness.report.selection import decide
from harness.settings.cycles import CandidateDef, CycleDef
from harness.trace import collect as trace_collect
from harness.trace.cache import ProfileCache
from harness.trace.profile import get_profile


def qemu_pids() -> set[int]:
    """QEMU processes this test process started (other runs on the machine aside)."""
    out = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                is_qemu = f.read().split(b"\0")[0].endswith(b"qemu-system-arm")
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if is_qemu and ppid == os.getpid():
            out.add(int(pid))
    return out


def test_qemu_killed_mid_trace_leaves_no_entry_and_the_next_run_refills(
    target, baseline, workload, selectors, tmp_path, monkeypatch
):
    cache = ProfileCache(tmp_path / "profiles")
    before = qemu_pids()

    class KilledMidway(trace_collect.QemuSession):
        def run(self, command, timeout=None):
            if self.markers.n >= 4 and self.pid:
                os.kill(self.pid, signal.SIGKILL)
            return super().run(command, timeout)

    monkeypatch.setattr(trace_collect, "QemuSession", KilledMidway)
    with pytest.raises(BootFailure, match="QEMU exited"):
        get_profile(target, baseline, workload, "syscalls", selectors["syscalls"], cache)
    monkeypatch.undo()
    left = [p.name for p in (tmp_path / "profiles" / "syscalls").iterdir()]
    assert all(name.endswith(".lock") for name in left), left
    assert not qemu_pids() - before
    entry = get_profile(target, baseline, workload, "syscalls", selectors["syscalls"], cache)
    assert entry.hit is False and cache.valid(entry.key)


@pytest.fixture
def fault_env(target, workload, selectors, tmp_path, monkeypatch, records):
    monkeypatch.setenv("KQUAL_RESULTS", str(tmp_path / "results"))
    return Environment(
        target, workload, ProfileCache(tmp_path / "profiles"), selectors, records, []
    )


def run_cycle(runner: CycleRunner) -> dict[str, str]:
    """Every step of every candidate, as the tests do it; each failure is recorded."""
    cycle = runner.cycle
    for c in cycle.candidates:
        steps = [runner.boot, runner.run_workload]
        if c.name != cycle.baseline:
            steps.append(runner.regression)
        for step in steps:
            with contextlib.suppress(KqualError):  # recorded in the result; go on
                step(c.name)
    runner.close_sessions()
    root = runner.results(cycle.baseline).parent
    return {d.candidate: d for d in decide(cycle, root, runner.env.run_id)}


def test_a_failing_kernel_build_fails_only_its_candidate(fault_env, tmp_path):
    bad = tmp_path / "broken.config"
    bad.write_text("# a typo no kernel knows\nCONFIG_KQUAL_NO_SUCH_OPTION=y\n")
    cycle = CycleDef(
        name="faults_build",
        candidates=[
            CandidateDef("baseline"),
            CandidateDef("broken", base="baseline", fragments=[str(bad)]),
        ],
    )
    decisions = run_cycle(CycleRunner(fault_env, cycle))
    assert decisions["broken"].reason == "failed_build"
    assert "CONFIG_KQUAL_NO_SUCH_OPTION" in decisions["broken"].detail
    assert decisions["baseline"].reason == "selected"


def test_a_kernel_that_never_reaches_the_shell_fails_its_boot(fault_env, tmp_path):
    """init never starts a shell: the boot timeout fires and the decision is failed_boot."""
    env = dataclasses.replace(
        fault_env,
        target=dataclasses.replace(
            fault_env.target,
            kernel=dataclasses.replace(fault_env.target.kernel, cmdline="earlycon rdinit=/bin/cat"),
            boot=dataclasses.replace(fault_env.target.boot, boot_timeout_s=8.0),
        ),
        boots=1,
    )
    cycle = CycleDef(name="faults_boot", candidates=[CandidateDef("baseline")])
    before = qemu_pids()
    decisions = run_cycle(CycleRunner(env, cycle))
    assert decisions["baseline"].reason == "failed_boot"
    assert "no boot marker" in decisions["baseline"].detail
    assert not qemu_pids() - before
