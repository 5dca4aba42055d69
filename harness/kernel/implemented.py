"""Which syscalls a build really implements: its table's entry points, read
through its System.map. COND_SYSCALL makes a disabled feature's entries weak
aliases of sys_ni_syscall, so a config change can turn a syscall the
userspace calls into ENOSYS without touching the table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .syscall_table import NI, PRUNED, parse_syscall_table
from .system_map import first_addresses


def lost_syscalls(runner: Any, system_map: Path, base_map: Path) -> list[str]:
    """Reachable syscalls the base implements and this build turned into
    sys_ni_syscall (COND_SYSCALL makes a disabled feature's entries weak
    aliases of it)."""
    entries = {e.number: e for e in parse_syscall_table(runner.syscall_table())}
    reachable = runner.reachable().numbers
    base = _implemented(entries, reachable, base_map)
    mine = _implemented(entries, reachable, system_map)
    return [label for nr, label in sorted(base.items()) if nr not in mine]


def syscall_name(label: str) -> str:
    """The name in a lost_syscalls() label ('name (nr)')."""
    return label.split(" ", 1)[0]


def _implemented(entries: dict[int, Any], reachable: Any, system_map: Path) -> dict[int, str]:
    """Reachable syscall number -> 'name (nr)' for those with a real entry point here."""
    addresses = first_addresses(system_map)
    ni = {addresses.get(NI), addresses.get(PRUNED)} - {None}
    out = {}
    for nr in reachable:
        e = entries.get(nr)
        if e is None or e.entry in (None, NI):
            continue
        where = addresses.get(e.entry)
        if where is not None and where not in ni:
            out[nr] = f"{e.name} ({nr})"
    return out
