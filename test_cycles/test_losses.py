"""What an image gives up is measured and refused unless the cycle names it.

`PROC_SYSCTL=n` is the loss a person at the shell meets first: /proc/sys is
gone, so is `cat /proc/sys/kernel/hostname`, setting the hostname, and
restoring the console level after `dmesg -n`. The workload never reads it,
so only the census can catch it.
"""

from __future__ import annotations

import dataclasses

import pytest
from kq_cycles import runner_with

from harness.boot.losses import Loss, LossKind, accepts, interface_losses
from harness.search.trial import Verdict, evaluate
from harness.settings.cycles import CandidateDef
from harness.settings.derivation import make

pytestmark = pytest.mark.needs("qemu", "cross", "kernel")

BASE = "syscall-prune"
NAME = "no-proc-sysctl"


@pytest.fixture(scope="module")
def runner(cycle_runners):
    """A cycle that has the safe prune, with a trial of PROC_SYSCTL=n on top of it."""
    r = runner_with(cycle_runners, BASE)
    trial = CandidateDef(name=NAME, base=BASE)
    spec = {"options": {"set": {"PROC_SYSCTL": "n"}}}
    trial.derivations = [make(spec, r.results(NAME) / "trial.json", None, f"trial {NAME}")]
    r.declare(trial)
    return r


def test_proc_sys_lost_is_found_named_and_refused_by_default(runner):
    gone = Loss("/proc/sys", LossKind.GONE)
    assert not any(accepts(e, gone) for e in runner.cycle.accept_losses)
    verdict, detail = evaluate(runner, NAME, BASE)
    assert verdict == Verdict.LOSES_INTERFACE, detail
    assert "/proc/sys (gone," in detail
    base, mine = runner.census(BASE).census, runner.census(NAME).census
    assert "/proc/sys/kernel/hostname" in base.entries
    assert "/proc/sys" not in mine.entries
    lost = {x.key for x in interface_losses(base, mine)}
    assert lost == {"/proc/sys"}, f"PROC_SYSCTL=n gives up more than /proc/sys: {sorted(lost)}"


def test_proc_sys_lost_is_accepted_when_the_cycle_lists_it(runner):
    cycle = runner.cycle
    runner.cycle = dataclasses.replace(cycle, accept_losses=[*cycle.accept_losses, "/proc/sys"])
    try:
        verdict, detail = evaluate(runner, NAME, BASE)
    finally:
        runner.cycle = cycle
    assert verdict == Verdict.ACCEPTED, detail


def test_an_option_the_userspace_init_needs_fails_the_boot_with_its_line(runner):
    """rcS mounts sysfs: with SYSFS=n that mount fails, so the boot is not clean,
    and the verdict names the line; the userspace is left as it is."""
    name = "no-sysfs"
    trial = CandidateDef(name=name, base=BASE)
    spec = {"options": {"set": {"SYSFS": "n"}}}
    trial.derivations = [make(spec, runner.results(name) / "trial.json", None, f"trial {name}")]
    runner.declare(trial)
    verdict, detail = evaluate(runner, name, BASE)
    assert verdict == Verdict.BOOT_FAILURE, detail
    assert "the userspace's init failed" in detail and "sysfs" in detail, detail
