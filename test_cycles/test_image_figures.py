"""The figures `kqual compare` and budgets read, on real builds and boots:
the linked syscall table, the subsystem rollup, resident bytes, /proc/meminfo."""

from __future__ import annotations

import dataclasses

import pytest
from kq_cycles import runner_with

from harness.kernel.syscall_states import SyscallState
from harness.kernel.syscall_table import PRUNED, parse_syscall_table
from harness.report.image_sizes import read_sizes
from harness.report.results import read_record
from harness.report.subsystems import depth_view
from harness.settings.cycles import Limits

pytestmark = pytest.mark.needs("qemu", "cross", "kernel")

BASE = "syscall-prune"


@pytest.fixture(scope="module")
def runner(cycle_runners):
    return runner_with(cycle_runners, BASE)


def test_the_linked_table_says_what_the_pruned_table_pruned(runner):
    built = runner.built(BASE)
    sizes = read_sizes(built.results)
    assert sizes is not None and sizes.image_fingerprint == built.fingerprint.digest
    table = parse_syscall_table(built.results / "syscall.tbl")
    pruned = {e.name for e in table if e.entry == PRUNED and e.abi in ("common", "eabi")}
    linked = {n for n, s in sizes.syscalls.items() if s == SyscallState.PRUNED}
    assert linked == pruned and len(pruned) > 100
    base = read_sizes(runner.built(runner.cycle.baseline).results)
    assert base is not None and SyscallState.PRUNED not in base.syscalls.values()
    for name in ("read", "write", "execve", "wait4"):  # what every shell needs
        assert base.syscalls[name] == sizes.syscalls[name] == SyscallState.IMPLEMENTED


def test_resident_bytes_and_subsystems_are_of_this_build(runner):
    built = runner.built(BASE)
    sizes = read_sizes(built.results)
    assert sizes is not None
    s = built.sizes
    assert sizes.resident_bytes == s.text + s.rodata + s.data + s.bss + s.unwind
    assert built.facts["kernel_resident_bytes"] == sizes.resident_bytes
    one = depth_view(sizes.subsystems, 1)
    # What objects define is the bulk of the allocated sections (the rest: the
    # initramfs, kallsyms tables, alignment), and kernel/ is the largest part.
    assert 0.5 * (s.text + s.rodata + s.data + s.bss) < sum(one.values()) <= s.in_image + s.bss
    assert max(one, key=one.__getitem__) == "kernel"


def test_meminfo_is_read_at_shell_ready(runner, target):
    runner.census(BASE)
    record = read_record(runner.results(BASE))
    assert record is not None
    total, free, avail = record.mem_total_bytes, record.mem_free_bytes, record.mem_available_bytes
    assert isinstance(total, int) and isinstance(free, int) and isinstance(avail, int)
    assert free < total <= target.memory.ram_size
    assert 0 < avail <= total


def _limited(runner, **limits):
    return dataclasses.replace(runner.cycle, limits=Limits(**limits))


def test_a_budget_one_byte_under_kernel_sched_fails_the_candidate(runner, tmp_path):
    sizes = read_sizes(runner.built(BASE).results)
    assert sizes is not None
    sched = sizes.subsystems.folders["kernel/sched"]
    cycle = runner.cycle
    try:
        for ceiling, ok_expected in ((sched - 1, False), (sched, True)):
            budget = tmp_path / f"budget-{ceiling}.yaml"
            budget.write_text(f"buckets:\n  kernel/sched: {ceiling}\n")
            runner.cycle = _limited(runner, budget=str(budget))
            ok, detail = runner.limits(BASE)
            assert ok is ok_expected, detail
            assert f"kernel/sched: {sched:,} bytes, ceiling {ceiling:,}" in detail
        runner.cycle = _limited(runner, max_resident_bytes=sizes.resident_bytes - 1)
        ok, detail = runner.limits(BASE)
        assert not ok and f"resident {sizes.resident_bytes:,} bytes" in detail
        runner.census(BASE)  # this run's meminfo, whichever worker ran the other tests
        record = read_record(runner.results(BASE))
        assert record is not None and record.mem_available_bytes is not None
        runner.cycle = _limited(runner, min_mem_available=record.mem_available_bytes + 1)
        ok, detail = runner.limits(BASE)
        assert not ok and "MemAvailable" in detail
    finally:
        runner.cycle = cycle


def test_metadata_json_says_what_built_it(runner, target):
    import hashlib
    import shlex

    from harness.core import jsonfile
    from harness.report.metadata import METADATA_FILE

    built = runner.built(BASE)
    data = jsonfile.loads("metadata", (built.results / METADATA_FILE).read_text())
    assert data is not None
    config = (built.results / "kernel.config").read_bytes()
    assert data["config"]["sha256"] == hashlib.sha256(config).hexdigest()
    assert data["source"]["kernelversion"] == runner.source().version
    assert data["toolchain"]["gcc"] == target.toolchain.version
    assert data["sizes"]["linux_axf_bytes"] == built.axf_bytes
    assert isinstance(data["durations"]["build_seconds"], float)
    steps = [shlex.split(s) for s in data["reproducer"].split(" && ")]
    assert steps[1] == ["cp", str(built.results / "kernel.config"), "build/.config"]
    make = steps[3]
    assert "make" in make and make[make.index("-C") + 1] == str(runner.source().tree)
    assert str(runner.source().tree) in make and "O=build" in make and "Image" in make
    assert any(a.startswith("cmd_systbl=") for a in make)  # its pruned table, as built


def test_initcall_figures_are_the_same_on_two_boots(runner):
    from harness.boot.initcall_boot import initcall_boot

    built = runner.built(BASE)
    one = initcall_boot(runner.env.target, built, f"{BASE} (1)")
    two = initcall_boot(runner.env.target, built, f"{BASE} (2)")
    assert one.usecs() == two.usecs() and one.phases == two.phases
    assert [c.name for c in one.initcalls] == [c.name for c in two.initcalls]


XZ = "initramfs-xz"


def test_the_xz_initramfs_regression_is_its_unpacking(runner):
    """xz packs the initramfs tighter and unpacks it slower: the regression's
    detail must put the extra time in the unpacking, in populate_rootfs."""
    from harness.search.trial import Verdict, evaluate
    from harness.settings.cycles import CandidateDef
    from harness.settings.derivation import make

    trial = CandidateDef(name=XZ, base=BASE)
    xz = {"INITRAMFS_COMPRESSION_XZ": "y", "INITRAMFS_COMPRESSION_GZIP": "n", "RD_XZ": "y"}
    spec = {"options": {"set": xz | {"RD_GZIP": "n"}}}
    trial.derivations = [make(spec, runner.results(XZ) / "trial.json", None, f"trial {XZ}")]
    runner.declare(trial)
    verdict, detail = evaluate(runner, XZ, BASE)
    assert verdict == Verdict.REGRESSION, detail
    base, mine = runner.boot_timeline(runner.cycle.baseline), runner.boot_timeline(XZ)
    grown = mine.phases["unpack_initramfs"] - base.phases["unpack_initramfs"]
    others = {k: mine.phases[k] - base.phases[k] for k in mine.phases if k != "unpack_initramfs"}
    assert grown > 10 and all(grown > 5 * v for v in others.values()), (grown, others)
    assert "unpack_initramfs +" in detail and "populate_rootfs +" in detail
