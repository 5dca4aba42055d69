"""The syscall keep list (configs/rules/syscall_keep.yaml) and --keep-syscall:
names that must stay in every pruned table, checked against the kernel's table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError
from ..kernel.syscall_table import SyscallEntry
from .schema import bind, load_yaml


@dataclass
class _KeepFile:
    keep: dict[str, str]


def load_keep(path: Path, entries: list[SyscallEntry] | None = None) -> dict[str, str]:
    """The keep list; given the syscall table, every name is checked against it."""
    data = load_yaml(path)
    keep = bind(_KeepFile, data, path).keep
    if entries is not None:
        known = {e.name for e in entries}
        lines = data["keep"].key_lines if isinstance(data.get("keep"), dict) else {}
        for name in keep:
            if name not in known:
                raise ConfigError(
                    path, lines.get(name), f"'{name}' is not a syscall of this kernel's syscall.tbl"
                )
    return keep


def resolve_names(entries: list[SyscallEntry], wanted: list[str], where: str) -> set[int]:
    by_name = {e.name: e.number for e in entries}
    numbers = {e.number for e in entries}
    out = set()
    for w in wanted:
        if w.isdigit() and int(w) in numbers:
            out.add(int(w))
        elif w in by_name:
            out.add(by_name[w])
        else:
            raise ConfigError(
                where, None, f"'{w}' is not a syscall name or number of this kernel's syscall.tbl"
            )
    return out
