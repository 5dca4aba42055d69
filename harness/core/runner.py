"""Run an external command with its full output in a log file.

Builds print thousands of lines; the terminal gets a heartbeat, the log gets
everything, and a failure raises StepError with the log's tail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import StepError, ToolMissingError
from .progress import Ticker, say

TAIL_LINES = 40

# Which Debian package provides each tool kqual calls, for the error message.
PACKAGES = {
    "arm-none-eabi-gcc": "gcc-arm-none-eabi",
    "arm-none-eabi-ld": "binutils-arm-none-eabi",
    "arm-none-eabi-objcopy": "binutils-arm-none-eabi",
    "qemu-system-arm": "qemu-system-arm",
    "make": "make",
    "tar": "tar",
    "patch": "patch",
    "cpio": "cpio",
    "bison": "bison",
    "flex": "flex",
    "bc": "bc",
    "fdtput": "device-tree-compiler",
    "dpkg-source": "dpkg-dev",
    "dpkg-parsechangelog": "dpkg-dev",
    "ccache": "ccache",
    "rsync": "rsync",
}


def require_tool(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        package = PACKAGES.get(tool) or PACKAGES.get(tool.rsplit("-", 1)[-1], tool)
        raise ToolMissingError(tool, package)
    return path


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        with open(path, errors="replace") as f:
            kept = deque(f, maxlen=lines)
    except OSError:
        return ""
    # Compiler command lines run to kilobytes; the end of each line says what failed.
    return "\n".join(
        ln.rstrip("\n") if len(ln) <= 240 else "..." + ln.rstrip("\n")[-237:] for ln in kept
    ).rstrip()


def run_logged(
    argv: Sequence[str | os.PathLike],
    log: Path,
    step: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    append: bool = False,
) -> None:
    """Run argv, teeing its output to `log`; raise StepError on failure."""
    args = [str(a) for a in argv]
    if "/" not in args[0]:
        require_tool(args[0])
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ, **(env or {}))
    ticker = Ticker(step)
    with open(log, "a" if append else "w") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                out.write(line)
                ticker.tick(line)
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if rc != 0:
        raise StepError(step, log, tail(log), f"'{' '.join(args[:3])} ...' exited {rc}")
    if ticker.elapsed > 5:
        say(f"{step}: done in {ticker.elapsed:.0f}s")


def capture(argv: Sequence[str | os.PathLike], cwd: Path | None = None) -> str:
    """Run a short command and return its stdout; a failure names the command."""
    args = [str(a) for a in argv]
    require_tool(args[0])
    res = subprocess.run(args, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        raise StepError(" ".join(args), None, res.stderr.strip()[-2000:], f"exit {res.returncode}")
    return res.stdout
