"""A QEMU machine driven through its serial console with pexpect.

The session owns the QEMU process: it is killed when the session closes
(normal end, failure, timeout, KeyboardInterrupt), and the kernel kills it
too if the Python process dies first (PR_SET_PDEATHSIG), so no QEMU can
outlive the test that started it.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TextIO

import pexpect

from ..core.errors import KqualError
from ..core.runner import require_tool
from ..settings.target import Target
from .console import (
    FAILURE_RE,
    GUEST_READY_TAG,
    ConsoleFailure,
    Markers,
    between,
    find_failure,
    find_failures,
    guest_ms,
    init_errors,
    tail_lines,
)

_PR_SET_PDEATHSIG = 1
# Characters searched for a step's end marker or a kernel failure line, at the
# end of what arrived: both are short, and the search stays linear.
SEARCH_WINDOW = 8192
# After a fatal-looking line, how long a step still waits for its end marker: a
# dead kernel never sends it, a program that only printed such a line does.
FATAL_GRACE_S = 3.0
# A failure line is taken once it has arrived whole: else a line cut by the
# moment pexpect looked would be read twice, once cut.
WHOLE_FAILURE_LINE = re.compile(FAILURE_RE.pattern + r"(?=\r?\n)")
KERNEL_LOG_TIMEOUT_S = 20.0


def _child_setup(stderr_log: Path) -> Callable[[], None]:
    """Run in QEMU's process before exec: die with the parent, and keep QEMU's own
    stderr (its warnings, e.g. "Timer with delta zero, disabling") out of the
    console, where it would land inside a command's output."""

    def setup() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        fd = os.open(stderr_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.close(fd)

    return setup


class BootFailureKind(StrEnum):
    """What went wrong with a machine, as its session saw it."""

    KERNEL = "kernel"  # the kernel logged a failure (console.FailureKind says which)
    TIMEOUT = "timeout"  # what was awaited never came
    QEMU_EXIT = "qemu_exit"
    CONSOLE = "console"  # the console's output lost its shape
    INIT = "init"  # a command of the userspace's init (rcS, inittab) failed


Kind = BootFailureKind


class BootFailure(KqualError):
    """The kernel or QEMU failed before or while the workload ran."""

    def __init__(
        self,
        kind: BootFailureKind,
        detail: str,
        console_tail: str,
        log: Path,
        syscall: int | None = None,
    ) -> None:
        self.kind = kind
        self.detail = detail
        self.syscall = syscall  # a pruned syscall's number, from the kernel's notice
        super().__init__(
            f"{kind}: {detail}\nconsole log: {log}\nlast console lines:\n{console_tail}"
        )


@dataclass
class QemuOptions:
    icount: bool = False
    debug: str | None = None  # -d flags
    debug_file: Path | None = None  # -D file
    dfilter: str | None = None
    extra: list[str] = field(default_factory=list)


def qemu_argv(target: Target, axf: Path, opts: QemuOptions) -> list[str]:
    q = target.qemu
    argv = [q.binary, "-M", q.machine, "-cpu", q.cpu, *q.args, "-kernel", str(axf)]
    if opts.icount:
        argv += ["-icount", "shift=0,sleep=off"]
    if opts.debug:
        argv += ["-d", opts.debug, "-D", str(opts.debug_file)]
    if opts.dfilter:
        argv += ["-dfilter", opts.dfilter]
    return argv + opts.extra


@dataclass
class BootTimes:
    boot_marker_ms: float
    shell_ready_ms: float
    guest_shell_ready_ms: float | None


@dataclass
class CommandResult:
    output: str
    status: int


class QemuSession:
    def __init__(
        self, target: Target, axf: Path, console_log: Path, opts: QemuOptions | None = None
    ) -> None:
        self.target = target
        self.axf = axf
        self.console_log = console_log
        self.opts = opts or QemuOptions()
        self.argv = qemu_argv(target, axf, self.opts)
        self.markers = Markers()
        self.stderr_log = console_log.with_name(console_log.stem + ".qemu-stderr.log")
        self.child: pexpect.spawn | None = None
        self._log: TextIO | None = None
        self._t0 = 0.0

    # -- lifetime ---------------------------------------------------------
    def __enter__(self) -> QemuSession:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        require_tool(self.argv[0])
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.console_log, "w", encoding="utf-8", errors="replace")
        self._log.write(f"# {' '.join(self.argv)}\n")
        self.stderr_log.write_text("")
        self._t0 = time.monotonic()
        self.child = pexpect.spawn(
            self.argv[0],
            self.argv[1:],
            encoding="utf-8",
            codec_errors="replace",
            timeout=self.target.boot.step_timeout_s,
            maxread=65536,
            searchwindowsize=None,
            preexec_fn=_child_setup(self.stderr_log),
            echo=False,
        )
        self.child.logfile_read = self._log

    def close(self) -> None:
        if self.child is not None:
            try:
                if self.child.isalive():
                    self.child.kill(signal.SIGTERM)
                    deadline = time.monotonic() + 2
                    while self.child.isalive() and time.monotonic() < deadline:
                        time.sleep(0.02)
                self.child.close(force=True)
            except Exception:  # noqa: BLE001 - closing must never raise
                pass
            self.child = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    # -- console ----------------------------------------------------------
    @property
    def seen(self) -> str:
        """Everything the console printed so far (read back from the log)."""
        if self._log is not None:
            self._log.flush()
        return self.console_log.read_text(errors="replace")

    def _ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000

    def _fail(self, kind: BootFailureKind, detail: str) -> BootFailure:
        if self.child is not None and kind in (Kind.KERNEL, Kind.TIMEOUT):
            try:  # let the rest of a panic or oops reach the log
                self.child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=0.5)
            except Exception:  # noqa: BLE001
                pass
        if kind == Kind.QEMU_EXIT and self.stderr_log.exists():
            said = tail_lines(self.stderr_log.read_text(errors="replace"), 5)
            detail += f"; QEMU said: {said}" if said else ""
        return BootFailure(kind, detail, tail_lines(self.seen), self.console_log)

    def expect(
        self, pattern: str, timeout: float, what: str, window: int | None = None
    ) -> re.Match[str]:
        """Wait for `pattern`; a kernel failure or QEMU exit ends the wait at once.

        `window`: search only the last that many characters (linear time on
        long output; the pattern must be short).
        """
        assert self.child is not None
        patterns = [re.compile(pattern, re.S), FAILURE_RE, pexpect.EOF, pexpect.TIMEOUT]
        i = self.child.expect(patterns, timeout=timeout, searchwindowsize=window)
        if i == 0:
            return self.child.match
        if i == 1:
            found = find_failure(self.child.match.group(0))
            raise self._kernel_failure([found] if found else [], f"while waiting for {what}")
        if i == 2:
            status = self.child.wait() if self.child else None
            raise self._fail(Kind.QEMU_EXIT, f"QEMU exited (status {status}) before {what}")
        raise self._fail(Kind.TIMEOUT, f"no {what} within {timeout:.0f}s")

    def boot(self) -> BootTimes:
        """Wait for the boot marker and a shell that answers; time both."""
        boot = self.target.boot
        self.expect(re.escape(boot.marker), boot.boot_timeout_s, f"boot marker {boot.marker!r}")
        marker_ms = self._ms()
        # Nothing may be typed before the UART driver is up (it would stay
        # deaf): wait for the first prompt, then ask until the shell answers.
        self.expect(re.escape(boot.prompt), boot.boot_timeout_s, f"shell prompt {boot.prompt!r}")
        errors = init_errors(self.seen, boot.prompt)
        if errors:
            more = f" (and {len(errors) - 1} more: {errors[1:4]})" if len(errors) > 1 else ""
            raise self._fail(
                Kind.INIT,
                f"the userspace's init failed: {errors[0]!r}{more}: this kernel lacks what "
                "its rcS or inittab needs (kqual never edits the userspace: change the "
                "kernel, or the userspace yourself)",
            )
        self._ask("a marker echo")
        ready_ms = self._ms()
        return BootTimes(marker_ms, ready_ms, guest_ms(self.seen, GUEST_READY_TAG))

    def run(
        self, command: str, timeout: float | None = None, what: str | None = None
    ) -> CommandResult:
        """Run one shell command; its output is what lies between the markers.

        Only the end marker and kernel failure lines are searched for, in a
        window at the end of what arrived, so megabytes of output cost linear
        time. A failure line does not end the step: the step's own output is
        read to its end marker, so every notice it caused stays with it, and a
        line is a kernel failure only if the kernel's log has it (a program
        can print anything). Only when the shell stops answering does the
        console's line stand alone. A command that times out is interrupted
        (Ctrl-C) and the shell resynced; the StepTimeout names the command.
        """
        assert self.child is not None
        limit = timeout or self.target.boot.step_timeout_s
        what = what or repr(command)  # how messages name the step
        output, status, seen = self._exchange(command, limit, watch=True)
        if status is None:  # no end marker: the step hung, or the kernel died
            fatal = next((f for f in seen if f.kind.fatal), None)
            if fatal is not None:
                raise self._kernel_failure([fatal], f"while running {what}")
            self.resync()
            logged = self._logged_by_kernel(seen)
            if logged:
                raise self._kernel_failure(logged, f"while running {what}")
            raise StepTimeout(
                Kind.TIMEOUT,
                f"{what} did not finish within {limit:g}s; interrupted (Ctrl-C)",
                tail_lines(self.seen),
                self.console_log,
            )
        logged = self._logged_by_kernel(seen)
        if logged:
            raise self._kernel_failure(logged, f"while running {what}")
        return CommandResult(output, status)

    def _exchange(
        self, command: str, limit: float, watch: bool
    ) -> tuple[str, int | None, list[ConsoleFailure]]:
        """Type `command` wrapped in markers; (its output, its status or None when the
        end marker never came, the failure lines seen meanwhile when `watch`)."""
        assert self.child is not None
        n = self.markers.next()
        typed, begin, end = self.markers.wrap(n, command)
        self.child.sendline(typed)
        patterns = [re.compile(end), WHOLE_FAILURE_LINE, pexpect.EOF, pexpect.TIMEOUT]
        if not watch:
            patterns.pop(1)
        deadline = time.monotonic() + limit
        arrived: list[str] = []
        seen: list[ConsoleFailure] = []
        while True:
            wait = deadline - time.monotonic()
            if any(f.kind.fatal for f in seen):
                wait = min(wait, FATAL_GRACE_S)  # a dead kernel will not answer
            i = self.child.expect(patterns, timeout=max(wait, 0), searchwindowsize=SEARCH_WINDOW)
            kind = patterns[i]
            arrived.append(self._before())
            if kind is pexpect.EOF:
                status = self.child.wait() if self.child else None
                detail = f"QEMU exited (status {status}) before {command!r} ended"
                raise self._fail(Kind.QEMU_EXIT, detail)
            if kind is pexpect.TIMEOUT:
                return "", None, seen
            if kind is WHOLE_FAILURE_LINE:
                arrived.append(self.child.match.group(0))
                failure = find_failure(self.child.match.group(0))
                if failure is not None:
                    seen.append(failure)
                continue
            rc = int(self.child.match.group("rc"))
            break
        output = between("".join(arrived), begin)
        if output is None:
            raise self._fail(Kind.CONSOLE, f"the output of {command!r} lost its begin marker")
        if watch:  # lines that arrived before the search window, in a long output
            seen += [f for f in find_failures(output) if f not in seen]
        return output, rc, seen

    def _logged_by_kernel(self, seen: list[ConsoleFailure]) -> list[ConsoleFailure]:
        """Those of `seen` the kernel's own log holds (dmesg); all of them when the
        log cannot be read, since then the console is the only witness."""
        if not seen:
            return []
        try:
            log, status, _ = self._exchange("dmesg", KERNEL_LOG_TIMEOUT_S, watch=False)
        except BootFailure:
            return seen
        if status != 0:
            return seen  # no dmesg here, or its syscall is gone: trust the console
        oldest = guest_ms(log, "")
        return [f for f in seen if f.stamped in log or _older(f, oldest)]

    def _before(self) -> str:
        before = self.child.before if self.child is not None else ""
        return before if isinstance(before, str) else ""

    def _kernel_failure(self, failures: list[ConsoleFailure], context: str) -> BootFailure:
        """Kernel failure lines; a crash first gets its rest into the log, a pruned
        syscall's notice (the guest goes on) does not need to."""
        detail = f"{'; '.join(f.line for f in failures) or 'failure'} ({context})"
        syscall = next((f.syscall for f in failures if f.syscall is not None), None)
        if any(f.kind.fatal for f in failures):
            err = self._fail(Kind.KERNEL, detail)
        else:
            err = BootFailure(Kind.KERNEL, detail, tail_lines(self.seen), self.console_log)
        err.syscall = syscall
        return err

    def resync(self) -> None:
        """Interrupt whatever runs and wait for the shell to answer a fresh marker."""
        self._ask("a marker echo after Ctrl-C", interrupt=True)

    def _ask(self, what: str, interrupt: bool = False, tries: int = 5) -> None:
        """Type a marker echo until the shell answers it (2 s a try)."""
        assert self.child is not None
        for _attempt in range(tries):
            if interrupt:
                self.child.sendcontrol("c")
            typed, answer = self.markers.echo(self.markers.next())
            self.child.sendline(typed)
            try:
                self.expect(answer, 2.0, what, window=SEARCH_WINDOW)
                return
            except BootFailure as e:
                if e.kind != Kind.TIMEOUT:
                    raise
        raise self._fail(Kind.TIMEOUT, f"the shell never answered {what} ({tries} tries)")


def _older(failure: ConsoleFailure, oldest_ms: float | None) -> bool:
    """Is the line older than all the kernel's log still holds (a small log buffer
    wrapped past it)? Then the log cannot deny it, and the console stands."""
    at = guest_ms(failure.stamped, "")
    return oldest_ms is None or (at is not None and at < oldest_ms)


class StepTimeout(BootFailure):
    """A command ran past its timeout; it was interrupted and the shell answers again."""
