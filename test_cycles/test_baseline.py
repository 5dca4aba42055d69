"""The baseline candidate: built once, booted, and put through the workload.

Each workload step is its own test so a report names the step that failed.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from harness.boot.qemu import BootFailure, QemuOptions, QemuSession
from harness.boot.qualify import icount_boot, qualify_boot
from harness.core.verdicts import StepName
from harness.image.bootwrap import wrap

CYCLE = "baseline"


@pytest.fixture(scope="session")
def baseline_machine(target, baseline, boots, icount_boots, records):
    """The baseline booted `boots` times; the last boot stays up for the workload."""
    report, session = qualify_boot(
        target, baseline.axf, baseline.results, boots, icount_boots, f"{CYCLE}/baseline"
    )
    records.step(baseline.results, StepName.BOOT, True, **report.as_result())
    try:
        yield report, session
    finally:
        session.close()


def test_baseline_builds_a_wrapped_image(target, baseline, record_property):
    record_property("linux_axf_bytes", baseline.axf_bytes)
    for k, v in baseline.sizes.as_dict().items():
        record_property(f"section_{k}", v)
    with open(baseline.axf, "rb") as f:
        elf = ELFFile(f)
        secs = {s.name: s for s in elf.iter_sections()}
        sp, reset = struct.unpack("<II", secs[".vectors"].data()[:8])
        assert secs[".vectors"]["sh_addr"] == 0
        assert sp == target.memory.initial_sp and reset & 1
        assert secs[".dtb"]["sh_addr"] == target.memory.dtb_address >= 0x1000
        assert secs[".dtb"].data()[:4] == b"\xd0\x0d\xfe\xed"  # FDT magic
        assert secs[".kernel"]["sh_addr"] == target.memory.load_address
        assert secs[".kernel"]["sh_size"] == (baseline.results / "Image").stat().st_size
    assert baseline.sizes.text > 0 and baseline.sizes.init > 0


def test_baseline_boots_to_shell(baseline_machine, record_property):
    report, _ = baseline_machine
    for key, value in report.as_result().items():
        record_property(key, value)
    assert report.samples and all(s.shell_ready_ms > s.boot_marker_ms for s in report.samples)


def test_workload_step(baseline, baseline_machine, workload_step, records, record_property):
    _, session = baseline_machine
    result = session.run(workload_step.command, workload_step.timeout_s)
    why = workload_step.failure(result.output, result.status)
    records.update(baseline.results, **{f"workload.{workload_step.label}": why is None})
    record_property("exit_status", result.status)
    assert why is None, f"{why}; output:\n{result.output}"


def test_guest_time_is_deterministic(target, baseline, record_property):
    """Five boots under -icount: the guest sees the same shell_ready every time."""
    values = [
        icount_boot(target, baseline.axf, baseline.results / f"console-det-{i}.log")
        for i in range(5)
    ]
    record_property("guest_shell_ready_ms", values[0])
    assert values[0] is not None and values[0] > 0
    assert values == [values[0]] * 5


def test_panic_fails_fast_and_leaves_no_qemu(target, baseline, tmp_path):
    """A kernel that cannot run init panics: the boot fails in seconds, with the panic."""
    axf = wrap(
        target,
        baseline.kernel.image,
        baseline.kernel.dtb,
        tmp_path / "bogus",
        tmp_path / "wrap.log",
        cmdline="earlycon rdinit=/nonexistent init=/nonexistent",
    )
    session = QemuSession(target, axf, tmp_path / "console.log", QemuOptions())
    start = time.monotonic()
    with pytest.raises(BootFailure) as e:
        with session:
            pid = session.pid
            session.boot()
    elapsed = time.monotonic() - start
    assert e.value.kind == "kernel"
    assert "Kernel panic - not syncing" in str(e.value)
    assert elapsed < 15, f"took {elapsed:.1f}s: the failure must not wait for a timeout"
    assert not Path(f"/proc/{pid}").exists(), f"QEMU pid {pid} outlived its session"


def test_baseline_result_json_has_the_artifact_sizes(baseline):
    import json

    r = json.loads((baseline.results / "result.json").read_text())
    assert r["linux_axf_bytes"] == (baseline.results / "linux.axf").stat().st_size
    assert r["image_bytes"] == (baseline.results / "Image").stat().st_size
    assert 50_000 < r["initramfs_bytes"] < r["image_bytes"]
    assert set(r["sections"]) == {"text", "rodata", "data", "bss", "init", "unwind"}
    for name in ("vmlinux", "System.map", "kernel.config", "image.log"):
        assert (baseline.results / name).stat().st_size > 0
    assert (
        "CONFIG_LD_DEAD_CODE_DATA_ELIMINATION=y" in (baseline.results / "kernel.config").read_text()
    )


def test_console_survives_awkward_commands(target, baseline, tmp_path):
    """#, open quotes, exit, a hung command and megabytes of output: each step gets its
    own answer, and the next step is unaffected."""
    from harness.boot.qemu import StepTimeout

    with QemuSession(target, baseline.axf, baseline.results / "console-awkward.log") as s:
        s.boot()
        assert s.run("echo a # not a comment to the harness").output == "a\n"
        quote = s.run("echo 'open quote")
        assert quote.status != 0 and "unterminated" in quote.output
        assert s.run("exit 3").status == 3
        assert s.run("echo WARNING: x; echo Kernel panic - not syncing").status == 0
        # Output shaped like the kernel's own lines is no kernel failure: the
        # kernel's log does not hold it. Not even a panic line with its stamp.
        fake = s.run("echo '[    1.000000] WARNING: x'; echo '[  2.5] Kernel panic - not syncing'")
        assert fake.status == 0 and "WARNING: x" in fake.output
        with pytest.raises(StepTimeout, match=r"'sleep 30' did not finish within 2s"):
            s.run("sleep 30", 2)
        assert s.run("echo after-timeout").output == "after-timeout\n"
        line = "0123456789abcdef" * 16
        big = s.run(f"i=0; while [ $i -lt 4000 ]; do echo {line}; i=$((i+1)); done", 120)
        assert big.status == 0 and big.output.count(line + "\n") == 4000
        assert s.run("echo last").output == "last\n"


def test_qemus_own_messages_stay_out_of_the_console(target, baseline, tmp_path):
    """QEMU writes warnings to its stderr (under load, "Timer with delta zero,
    disabling" once landed inside a step's output): they go to their own log."""
    log = tmp_path / "console.log"
    with QemuSession(target, baseline.axf, log, QemuOptions(extra=["-d", "cpu_reset"])) as s:
        s.boot()
        assert s.run("echo clean").output == "clean\n"
        stderr = s.stderr_log
    assert "R00=" in stderr.read_text()  # -d without -D: QEMU's stderr
    assert "R00=" not in log.read_text()


def test_a_programs_fault_kills_that_program_only(target, baseline):
    """patches/linux/0003: a user fault is the program's SIGILL, not a halted board."""
    from harness.boot.user_fault import check_user_fault

    with QemuSession(target, baseline.axf, baseline.results / "console-fault.log") as s:
        s.boot()
        assert check_user_fault(s) is None
        assert s.run("echo still-here").output == "still-here\n"
    assert "kqual-fault[" in (baseline.results / "console-fault.log").read_text()


def test_section_sizes_match_size_A(baseline):
    """Sizes by section name, as `size -A` lists them; unwind tables on their own."""
    import subprocess

    out = subprocess.run(
        ["arm-none-eabi-size", "-A", baseline.results / "vmlinux"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    size = {}
    for line in out.splitlines()[2:]:
        fields = line.split()
        if len(fields) == 3 and fields[1].isdigit():
            size[fields[0]] = int(fields[1])
    s = baseline.sizes
    assert s.text == size[".head.text"] + size[".text"]
    read_only = (".rodata", "__param", "__modver", ".notes", "__ksymtab", "__kcrctab", "__ex_table")
    assert s.rodata == sum(v for k, v in size.items() if k.startswith(read_only))
    assert s.unwind == size[".ARM.unwind_idx"] + size[".ARM.unwind_tab"] > 0
    assert s.init == sum(v for k, v in size.items() if k.startswith((".init", ".exit")))
    assert s.data == size[".data"] and s.bss == size[".bss"]
