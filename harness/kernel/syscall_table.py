"""The kernel's arch/arm/tools/syscall.tbl: numbers, ABIs, names, entry points."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError
from ..core.textfile import read_text


@dataclass(frozen=True)
class SyscallEntry:
    number: int
    abi: str
    name: str
    entry: str | None
    line: int


def parse_syscall_table(path: Path) -> list[SyscallEntry]:
    entries = []
    for n, raw in enumerate(read_text(Path(path)).splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) < 3 or not fields[0].isdigit():
            raise ConfigError(path, n, f"not a syscall table line: {raw!r}")
        entry = fields[3] if len(fields) > 3 else None
        entries.append(SyscallEntry(int(fields[0]), fields[1], fields[2], entry, n))
    return entries


def syscall_names(path: Path | None) -> dict[int, str]:
    """number -> name for the EABI (common and eabi rows)."""
    if path is None:
        return {}
    return {e.number: e.name for e in parse_syscall_table(path) if e.abi in ("common", "eabi")}


# What a table entry points at when its syscall is gone: the kernel's stub, and
NI = "sys_ni_syscall"
# The entry point patches/linux gives pruned entries: it prints a notice, then
# returns -ENOSYS like sys_ni_syscall.
PRUNED = "sys_pruned_syscall"
