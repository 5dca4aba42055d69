"""Prune arch/arm/tools/syscall.tbl to what the workload used.

Every entry neither used in the profile nor on the keep list is pointed at
sys_ni_syscall (the numbering stays: a removed call returns -ENOSYS). With
dead-code elimination on, the unreferenced sys_* functions then drop out of
the image. The table is applied to one candidate's build only, by
overriding kbuild's cmd_systbl (NOTES.md: about 8 s), so the shared source
tree stays untouched; a changed table gets a new file name, because kbuild
reruns the command only when its text changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ConfigError
from ..kernel.syscall_table import NI, PRUNED, parse_syscall_table
from ..settings.keep import resolve_names


@dataclass
class PruneResult:
    kept: dict[int, str] = field(default_factory=dict)  # number -> why
    pruned: dict[int, str] = field(default_factory=dict)  # number -> name
    # Pruned although the userspace can call them: number -> calling functions.
    reachable_pruned: dict[int, list[str]] = field(default_factory=dict)
    table_text: str = ""

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.table_text.encode()).hexdigest()[:12]


def prune_table(
    table: Path,
    used: dict[int, int],
    keep: dict[str, str],
    extra: Sequence[str] = (),
    reachable: dict[int, list[str]] | None = None,
    keep_reachable: bool = True,
    entry_point: str = PRUNED,
) -> PruneResult:
    """Point every entry nobody needs at `entry_point`.

    Needed: the keep list, --keep-syscall, what the workload used, and (with
    keep_reachable) what the userspace can call. A reachable call that is
    pruned anyway is reported in reachable_pruned.
    """
    entries = parse_syscall_table(table)
    by_name = {e.name: e for e in entries}
    reachable = reachable or {}
    why: dict[int, str] = {}
    for name, reason in keep.items():
        if name not in by_name:
            raise ConfigError("syscall keep list", None, f"'{name}' is not in {table}")
        why[by_name[name].number] = f"keep list: {reason}"
    for nr in resolve_names(entries, list(extra), "--keep-syscall"):
        why.setdefault(nr, "kept on request")
    for nr, count in used.items():
        why.setdefault(nr, f"used {count} times by the workload")
    if keep_reachable:
        for nr, functions in reachable.items():
            why.setdefault(nr, f"reachable from {_callers(functions)}")
    result = PruneResult()
    out_lines = []
    by_line = {e.line: e for e in entries}
    for n, raw in enumerate(table.read_text().splitlines(), 1):
        entry = by_line.get(n)
        if entry is None or entry.entry is None:
            out_lines.append(raw)
            continue
        if entry.number in why:
            result.kept[entry.number] = why[entry.number]
            out_lines.append(raw)
        elif entry.entry == NI:
            out_lines.append(raw)
        else:
            result.pruned[entry.number] = entry.name
            if entry.number in reachable:
                result.reachable_pruned[entry.number] = reachable[entry.number]
            fields = raw.split()
            fields[3:] = [entry_point] * len(fields[3:])
            out_lines.append("\t".join(fields))
    result.table_text = "\n".join(out_lines) + "\n"
    return result


def _callers(functions: list[str], n: int = 4) -> str:
    more = f" and {len(functions) - n} more" if len(functions) > n else ""
    return ", ".join(functions[:n]) + more


def report(result: PruneResult, names: dict[int, str]) -> str:
    lines = [
        f"kept {len(result.kept)} syscalls, pruned {len(result.pruned)}, "
        f"of which {len(result.reachable_pruned)} the userspace can call",
        "",
        "kept:",
    ]
    lines += [
        f"  {nr:>4} {names.get(nr, '?'):<24} {why}" for nr, why in sorted(result.kept.items())
    ]
    if result.reachable_pruned:
        lines += ["", "pruned although the userspace can call them (AT RISK):"]
        lines += [
            f"  {nr:>4} {names.get(nr, '?'):<24} called by {_callers(fns, 8)}"
            for nr, fns in sorted(result.reachable_pruned.items())
        ]
    lines += ["", "pruned:"]
    lines += [f"  {nr:>4} {name}" for nr, name in sorted(result.pruned.items())]
    return "\n".join(lines) + "\n"


def systbl_override(table: Path) -> str:
    """The make argument that builds calls-*.S from `table` instead of the tree's."""
    return f"cmd_systbl=$(CONFIG_SHELL) $(systbl) --abis common,$* {table} $@"
