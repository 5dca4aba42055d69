"""Reading the serial console: failures, markers, guest timestamps.

Kept apart from the QEMU process handling so it can be tested on real
console excerpts without booting anything.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from enum import StrEnum

from ..image.rootfs import READY_TAG


class FailureKind(StrEnum):
    """A kernel failure that must end the boot at once, not a timeout."""

    PANIC = "panic"
    INIT_KILLED = "init_killed"
    OOPS = "oops"
    BUG = "bug"
    WARNING = "warning"
    UNHANDLED_FAULT = "unhandled_fault"
    # v7-M: any fault the kernel has no handler for, a user program's included;
    # the kernel then spins in __invalid_entry and the board answers no more.
    UNHANDLED_EXCEPTION = "unhandled_exception"
    # patches/linux: a pruned syscall table entry was called (it returned -ENOSYS).
    PRUNED_SYSCALL = "pruned_syscall"

    @property
    def fatal(self) -> bool:
        """The kernel may be gone after it: no answer is to be awaited. After a
        warning or a pruned syscall's notice the guest goes on."""
        return self not in (FailureKind.WARNING, FailureKind.PRUNED_SYSCALL)


FAILURE_PATTERNS: dict[FailureKind, str] = {
    FailureKind.PANIC: r"Kernel panic - not syncing[^\r\n]*",
    FailureKind.INIT_KILLED: r"Attempted to kill init[^\r\n]*",
    FailureKind.OOPS: r"(?:Internal error: )?Oops[^\r\n]*",
    FailureKind.BUG: r"\bBUG: [^\r\n]*",
    FailureKind.WARNING: r"\bWARNING: [^\r\n]*",
    FailureKind.UNHANDLED_FAULT: r"Unable to handle kernel [^\r\n]*",
    FailureKind.UNHANDLED_EXCEPTION: r"Unhandled exception: IPSR = [^\r\n]*",
    FailureKind.PRUNED_SYSCALL: r"pruned syscall \d+ called by [^\r\n]*",
}
# Only kernel log lines count, which printk's timestamp starts (PRINTK_TIME):
# a command line that echoes "WARNING: x", or a program printing it, is no failure.
KERNEL_STAMP = r"\[\s*\d+\.\d+\] "
FAILURE_RE = re.compile(
    f"(?P<stamp>{KERNEL_STAMP})(?:"
    + "|".join(f"(?P<{k}>{v})" for k, v in FAILURE_PATTERNS.items())
    + ")"
)

# printk timestamp at the start of a console line: "[    0.055450] ..."
_STAMP = r"\[\s*(\d+)\.(\d{6})\]"
# The line the userspace writes to /dev/kmsg as its login shell starts.
GUEST_READY_TAG = READY_TAG.decode()


@dataclass(frozen=True)
class ConsoleFailure:
    kind: FailureKind
    line: str
    stamp: str = ""  # printk's "[    1.234567] " before it

    @property
    def stamped(self) -> str:
        """The line as the kernel's log (dmesg) prints it."""
        return self.stamp + self.line

    @property
    def syscall(self) -> int | None:
        """The number in a pruned-syscall notice."""
        m = (
            re.match(r"pruned syscall (\d+)", self.line)
            if self.kind == FailureKind.PRUNED_SYSCALL
            else None
        )
        return int(m[1]) if m else None


def find_failure(text: str) -> ConsoleFailure | None:
    m = FAILURE_RE.search(text)
    return _failure(m) if m else None


def find_failures(text: str) -> list[ConsoleFailure]:
    """Every kernel failure line in `text`, in order."""
    return [_failure(m) for m in FAILURE_RE.finditer(text)]


def _failure(m: re.Match[str]) -> ConsoleFailure:
    kind = FailureKind(m.lastgroup or "")  # one kind's group always matched, and last
    return ConsoleFailure(kind, m.group(kind).strip(), m.group("stamp"))


def guest_ms(text: str, tag: str) -> float | None:
    """Guest time (ms) of the printk line carrying `tag`, from its timestamp."""
    m = re.search(_STAMP + r"[^\r\n]*?" + re.escape(tag), text)
    if m is None:
        return None
    return int(m[1]) * 1000 + int(m[2]) / 1000


def tail_lines(text: str, n: int = 30) -> str:
    lines = text.replace("\r", "").split("\n")
    return "\n".join(lines[-n:]).rstrip()


class Markers:
    """Shell markers the typed command line can never match.

    The terminal echoes what we type, so a marker is written as arithmetic
    ($((n))) and only the shell's expansion of it matches.
    """

    def __init__(self, prefix: str = "KQ") -> None:
        self.prefix = prefix
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n

    def echo(self, n: int) -> tuple[str, str]:
        """(what to type, regex of the answer)."""
        return (f"echo __{self.prefix}R_$(({n}))__", rf"__{self.prefix}R_{n}__")

    def wrap(self, n: int, command: str) -> tuple[str, str, str]:
        """(what to type, begin-marker regex, end-marker regex capturing the status).

        The command runs in `sh -c` with its text single-quoted: a `#`, an
        unbalanced quote or an `exit` in it stays inside that shell, so the
        end marker always follows with its exit status.
        """
        typed = (
            f"echo __{self.prefix}B_$(({n}))__; sh -c {shlex.quote(command)}; "
            f"echo __{self.prefix}E_$(({n}))_$?__"
        )
        return typed, rf"__{self.prefix}B_{n}__\r*\n", rf"__{self.prefix}E_{n}_(?P<rc>\d+)__"


def between(text: str, begin: str) -> str | None:
    """The output after the begin marker (None when it is not there)."""
    found = list(re.finditer(begin, text))  # the typed line never matches, the answer does
    return text[found[-1].end() :].replace("\r", "") if found else None


# What a BusyBox init, shell or applet prints when a command of the init fails:
# "mount: mounting sysfs on /sys failed: No such device", "can't run
# '/bin/x': No such file or directory", "sh: x: not found".
INIT_ERROR_RE = re.compile(
    r"can't|cannot|failed|not found|No such (?:file|device)|Permission denied|"
    r"Invalid argument|[Nn]ot supported|Operation not permitted|Function not implemented|"
    r"Read-only file system|[Uu]nknown filesystem|[Nn]o medium"
)
_PRINTK_LINE = re.compile(r"^\s*(?:<\d+>)?\[\s*\d+\.\d+\]")
INIT_START = re.compile(r"Run \S+ as init process")  # the kernel, as it starts init


def init_errors(text: str, prompt: str) -> list[str]:
    """The userspace's own lines, from /init's start to the first shell prompt,
    that say a command of its init failed (kernel lines carry printk's stamp)."""
    m = INIT_START.search(text)
    if m is None:
        return []
    start = m.start()
    end = text.find(prompt, start)
    if end < 0:
        return []
    out = []
    for raw in text[start:end].splitlines()[1:]:
        line = raw.replace("\r", "").strip()
        if line and not _PRINTK_LINE.match(line) and INIT_ERROR_RE.search(line):
            out.append(line)
    return out
