"""Console reading on real excerpts from our own baseline boots."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from harness.boot.console import (
    Markers,
    between,
    find_failure,
    find_failures,
    guest_ms,
    init_errors,
)

DATA = Path(__file__).parent / "data" / "console"


def test_real_panic_is_found_with_its_line():
    text = (DATA / "panic-bad-init.log").read_text()
    f = find_failure(text)
    assert f is not None and f.kind == "panic"
    assert f.line == "Kernel panic - not syncing: Requested init /nonexistent failed (error -2)."


def test_a_user_programs_fault_that_halts_a_v7m_board_is_named():
    """Real: hush's `exec 3>FILE` faults in user space on the syscall-prune image;
    the v7-M kernel prints this and spins, so the step fails at once, by name."""
    f = find_failure((DATA / "user-fault-v7m.log").read_text())
    assert f is not None and f.kind == "unhandled_exception"
    assert f.line == "Unhandled exception: IPSR = 00000006 LR = fffffffd"


def test_real_clean_boot_has_no_failure_and_a_guest_time():
    text = (DATA / "boot-icount.log").read_text()
    assert find_failure(text) is None
    assert guest_ms(text, "kqual: shell ready") == pytest.approx(61.747)


@pytest.mark.parametrize(
    "line,kind",
    [
        (
            "[    1.0] Unable to handle kernel NULL pointer dereference at virtual address 0",
            "unhandled_fault",
        ),
        ("[    1.0] Internal error: Oops - undefined instruction: 0 [#1]", "oops"),
        ("[    1.0] BUG: scheduling while atomic: sh/23/0x00000002", "bug"),
        ("[    1.0] WARNING: CPU: 0 PID: 1 at mm/slub.c:100 foo+0x1/0x2", "warning"),
        ("[    1.0] Attempted to kill init! exitcode=0x0000000b", "init_killed"),
    ],
)
def test_each_failure_kind(line, kind):
    f = find_failure("ok\r\r\n" + line + "\r\r\nmore")
    assert f is not None and f.kind == kind and f.line.startswith(line.split("] ", 1)[1][:10])


def test_real_pruned_syscall_notice_names_its_number():
    text = (DATA / "pruned-syscall.log").read_text()
    f = find_failure(text)
    assert f is not None and f.kind == "pruned_syscall"
    assert f.line == "pruned syscall 60 called by mkdir[19]" and f.syscall == 60


def test_program_output_and_echoed_commands_are_not_kernel_failures():
    typed = "/ # echo __KQB_$((3))__; echo WARNING: x; echo Kernel panic - not syncing\r\r\n"
    out = "__KQB_3__\r\r\nWARNING: x\r\r\nKernel panic - not syncing\r\r\n"
    assert find_failure(typed + out) is None
    assert find_failure(out + "[   12.345678] WARNING: CPU: 0 PID: 1 at x\r\n").kind == "warning"


def test_every_failure_line_of_a_step_is_found_with_its_stamp():
    """Two notices in one step's output: both are the step's, each as dmesg prints it."""
    text = (DATA / "pruned-syscall.log").read_text()
    text += "[    3.141592] pruned syscall 12 called by sh[20]\r\n"
    found = find_failures(text)
    assert [f.syscall for f in found] == [60, 12]
    assert found[1].stamped == "[    3.141592] pruned syscall 12 called by sh[20]"
    assert all(f.stamped in text for f in found)


@pytest.mark.parametrize(
    "kind,fatal",
    [("panic", True), ("oops", True), ("unhandled_exception", True)]
    + [("warning", False), ("pruned_syscall", False)],
)
def test_only_failures_after_which_the_guest_goes_on_are_awaited(kind, fatal):
    from harness.boot.console import FailureKind

    assert FailureKind(kind).fatal is fatal


def test_harmless_lines_are_not_failures():
    text = "[ 0.1] debug_bugs: none\r\nBUGS: 0\r\nno WARNINGS here\r\n"
    assert find_failure(text) is None


def test_guest_ms_absent_tag():
    assert guest_ms("[    0.061747] something else\r\n", "kqual: shell ready") is None


def test_echo_marker_never_matches_the_typed_line():
    m = Markers()
    typed, answer = m.echo(m.next())
    echoed_back = f"/ # {typed}\r\r\n"
    assert re.search(answer, echoed_back) is None
    assert re.search(answer, echoed_back + "__KQR_1__\r\r\n")


def test_wrapped_command_captures_output_and_status_from_real_shape():
    m = Markers()
    n = m.next()
    typed, begin, end = m.wrap(n, "ls /tmp | wc -l")
    assert typed == f"echo __KQB_$(({n}))__; sh -c 'ls /tmp | wc -l'; echo __KQE_$(({n}))_$?__"
    console = f"/ # {typed}\r\r\n__KQB_{n}__\r\r\n0\r\r\n__KQE_{n}_0__\r\r\n/ # "
    got = re.search(end, console, re.S)
    assert got and got["rc"] == "0"
    assert between(console[: got.start()], begin) == "0\n"
    assert re.search(end, f"/ # {typed}\r\r\n", re.S) is None  # the typed line never matches


@pytest.mark.parametrize(
    "command",
    ["echo a # comment", "echo 'open quote", "exit 3", 'echo "it\'s" && echo $((1+1))'],
)
def test_awkward_commands_stay_inside_their_own_shell(command):
    typed, _, _ = Markers().wrap(1, command)
    # the command is one single-quoted word: the outer shell sees no #, quote or exit
    assert typed.startswith("echo __KQB_$((1))__; sh -c '") and typed.endswith(
        "; echo __KQE_$((1))_$?__"
    )
    assert shlex.split(typed.split("; sh -c ", 1)[1].rsplit("; echo", 1)[0]) == [command]


def _with_rcs_line(line: str) -> str:
    """The recorded boot, with `line` printed by rcS before the shell starts."""
    text = (DATA / "boot-icount.log").read_text()
    at = text.index("Linux for Cortex-M: userspace up")
    return text[:at] + line + "\r\r\n" + text[at:]


def test_a_clean_boot_has_no_init_error():
    assert init_errors((DATA / "boot-icount.log").read_text(), "/ # ") == []


@pytest.mark.parametrize(
    "line",
    [
        "mount: mounting sysfs on /sys failed: No such device",
        "\rcan't run '/sbin/getty': No such file or directory",
        "sh: /etc/init.d/net: not found",
        "cat: can't open '/dev/watchdog': No such file or directory",
    ],
)
def test_a_failing_init_command_is_found_with_its_line(line):
    assert init_errors(_with_rcs_line(line), "/ # ") == [line.strip()]


def test_kernel_lines_and_what_comes_after_the_prompt_are_not_init_errors():
    text = _with_rcs_line("<3>[    0.070000] probe of 40008000.watchdog failed with error -22")
    text += "ls: /nonexistent: No such file or directory\r\n"
    assert init_errors(text, "/ # ") == []
    assert init_errors("no kernel line at all: can't\n/ # ", "/ # ") == []
