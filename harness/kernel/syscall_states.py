"""What each syscall of a built kernel does, read from the table linked into it.

The table source says what was asked for; `sys_call_table` in vmlinux says what
was built: an entry pruned by kqual points at sys_pruned_syscall, one a
disabled feature's COND_SYSCALL left points at sys_ni_syscall. Reading the
linked table is exact for any tree, ours or a user's, pruned or not.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from enum import StrEnum
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ..core.errors import KqualError
from .syscall_table import NI, PRUNED, syscall_names
from .system_map import read_system_map

TABLE = "sys_call_table"


class SyscallState(StrEnum):
    IMPLEMENTED = "implemented"
    NOT_IMPLEMENTED = "not_implemented"  # sys_ni_syscall: the config left it out
    PRUNED = "pruned"  # sys_pruned_syscall: a pruned table left it out


def linked_table(vmlinux: Path) -> list[int]:
    """The entry addresses of vmlinux's sys_call_table (the Thumb bit cleared)."""
    with open(vmlinux, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        if not isinstance(symtab, SymbolTableSection):
            raise KqualError(f"{vmlinux}: no symbol table (was it stripped?)")
        syms = symtab.get_symbol_by_name(TABLE) or []
        if not syms or not syms[0]["st_size"]:
            raise KqualError(f"{vmlinux}: no sized {TABLE} symbol: not an ARM kernel?")
        addr, size = syms[0]["st_value"], syms[0]["st_size"]
        for sec in elf.iter_sections():
            start = sec["sh_addr"]
            if sec["sh_type"] == "SHT_PROGBITS" and start <= addr < start + sec["sh_size"]:
                off = addr - start
                raw = sec.data()[off : off + size]
                break
        else:
            raise KqualError(f"{vmlinux}: {TABLE} at {addr:#x} lies in no section with data")
    endian = "<" if elf.little_endian else ">"
    return [a & ~1 for a in struct.unpack(f"{endian}{size // 4}I", raw)]


def syscall_states(vmlinux: Path, system_map: Path, table: Path) -> dict[str, SyscallState]:
    """EABI syscall name -> what the linked table does with it; `table` (the
    source's syscall.tbl) only names the numbers."""
    entries = linked_table(vmlinux)
    at: dict[int, set[str]] = defaultdict(set)
    for s in read_system_map(system_map):
        at[s.address & ~1].add(s.name)
    out = {}
    for nr, name in sorted(syscall_names(table).items()):
        if nr >= len(entries):
            continue
        names = at.get(entries[nr], set())
        if PRUNED in names:
            out[name] = SyscallState.PRUNED
        elif NI in names:
            out[name] = SyscallState.NOT_IMPLEMENTED
        else:
            out[name] = SyscallState.IMPLEMENTED
    return out
