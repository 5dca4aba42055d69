"""The target's cross toolchain: a prefix on PATH, or a folder with a prefix.

`toolchain_prefix: arm-none-eabi-` finds arm-none-eabi-gcc on PATH (the default);
`toolchain_prefix: /opt/gcc-arm/bin/arm-none-linux-gnueabihf-` names a folder
and a prefix, as kbuild's CROSS_COMPILE does. Any GCC for ARM that compiles
Thumb-2 for the target's CPU will do. The compiler's version and where it
really lives (links followed) are part of every build's fingerprint: two
compilers that print the same version line are still two compilers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..core.errors import ConfigError, ToolMissingError
from ..core.fingerprint import Fingerprint
from ..core.paths import resolve
from ..core.runner import PACKAGES

# What kbuild, the boot wrapper, the userspace build and the reports call.
TOOLS = ("gcc", "ld", "as", "ar", "nm", "objcopy", "objdump", "readelf", "strip")


def cross_prefix(prefix: str) -> str:
    """The prefix as CROSS_COMPILE takes it: a bare one stays for PATH, one with
    a folder becomes absolute (relative ones are taken from the checkout)."""
    if "/" not in prefix:
        return prefix
    folder, _, name = prefix.rpartition("/")
    return f"{resolve(folder or '/')}/{name}"


@dataclass(frozen=True)
class Toolchain:
    """The compiler found for a prefix, and what identifies it."""

    prefix: str  # for CROSS_COMPILE: bare, or an absolute folder and prefix
    gcc: Path  # the compiler's own file, links followed
    version: str  # the first line of `gcc --version`
    machine: str  # `gcc -dumpmachine`: arm-none-eabi, arm-linux-gnueabihf...
    ld: Path  # the linker's own file
    ld_version: str

    def tool(self, name: str) -> str:
        return self.prefix + name

    @property
    def fingerprint(self) -> Fingerprint:
        fp = Fingerprint().add_text("gcc", f"{self.version}\n{self.gcc}\n{self.machine}")
        return fp.add_text("ld", f"{self.ld_version}\n{self.ld}")


def _found(program: str) -> str | None:
    if "/" in program:
        return program if os.path.isfile(program) and os.access(program, os.X_OK) else None
    return shutil.which(program)


def _missing(program: str, prefix: str) -> ToolMissingError | FileNotFoundError:
    if "/" not in prefix:
        package = PACKAGES.get(program) or PACKAGES.get(program.rsplit("-", 1)[-1], program)
        return ToolMissingError(program, package)
    return FileNotFoundError(program)


@cache
def find_toolchain(prefix: str, cpu: str) -> Toolchain:
    """The toolchain of `prefix`, checked: every tool there, an ARM compiler, and
    one that compiles Thumb-2 for `cpu`. Raises ToolMissingError (a bare prefix),
    FileNotFoundError (a folder's prefix) or ValueError (the wrong compiler)."""
    cross = cross_prefix(prefix)
    for name in TOOLS:
        if _found(cross + name) is None:
            raise _missing(cross + name, cross)
    gcc = Path(_found(cross + "gcc") or "").resolve()
    version = _capture([cross + "gcc", "--version"]).splitlines()[0].strip()
    machine = _capture([cross + "gcc", "-dumpmachine"]).strip()
    if not machine.startswith("arm"):
        raise ValueError(f"{cross}gcc builds for {machine}, not 32-bit ARM")
    with tempfile.TemporaryDirectory(prefix="kqual-cc-") as tmp:
        probe = Path(tmp) / "probe.c"
        probe.write_text("int kqual_probe(int x) { return x + 1; }\n")
        out = subprocess.run(
            [cross + "gcc", f"-mcpu={cpu}", "-mthumb", "-c", probe, "-o", Path(tmp) / "probe.o"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    if out.returncode != 0:
        raise ValueError(
            f"{cross}gcc cannot compile Thumb-2 for -mcpu={cpu}: "
            + (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        )
    ld = Path(_found(cross + "ld") or "").resolve()
    ld_version = _capture([cross + "ld", "--version"]).splitlines()[0].strip()
    return Toolchain(cross, gcc, version, machine, ld, ld_version)


def _capture(argv: list[str]) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise ValueError(f"'{' '.join(argv)}' failed: {out.stderr.strip()[-300:]}")
    return out.stdout


def target_toolchain(
    prefix: str, cpu: str, where: Path | None = None, line: int | None = None
) -> Toolchain:
    """find_toolchain, its problems told against the target file's key."""
    try:
        return find_toolchain(prefix, cpu)
    except ToolMissingError:
        raise
    except FileNotFoundError as e:
        name = cross_prefix(prefix).rpartition("/")[2]
        raise ConfigError(
            where or "toolchain_prefix",
            line,
            f"'toolchain_prefix' {prefix!r}: {e} does not exist or is not executable "
            f"(the folder must hold {', '.join(name + t for t in TOOLS)})",
        ) from None
    except ValueError as e:
        raise ConfigError(where or "toolchain_prefix", line, f"'toolchain_prefix': {e}") from None
