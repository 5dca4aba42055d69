"""Kernel function symbols from vmlinux, for mapping a pc to a function."""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ..core.errors import KqualError

STT_FUNC = 2


@dataclass(frozen=True)
class Function:
    name: str
    start: int  # Thumb bit cleared
    size: int
    section: str = ".text"

    @property
    def is_init(self) -> bool:
        """Freed after boot: hits there say nothing about runtime use."""
        return self.section.startswith((".init", ".exit"))


class SymbolTable:
    def __init__(self, functions: list[Function]) -> None:
        # One function per start address: of aliases, the sized one wins.
        best: dict[int, Function] = {}
        for f in functions:
            if f.start not in best or f.size > best[f.start].size:
                best[f.start] = f
        self.functions = sorted(best.values(), key=lambda f: f.start)
        self._starts = [f.start for f in self.functions]
        self.by_name = {f.name: f for f in functions}

    @classmethod
    def from_vmlinux(cls, vmlinux: Path) -> SymbolTable:
        """Function symbols, read in one pass over .symtab.

        pyelftools reads the headers; the entries are unpacked with struct,
        which is far faster than its per-symbol objects on a 70 MB vmlinux.
        """
        try:
            f = open(vmlinux, "rb")
        except OSError as e:
            raise KqualError(f"cannot read vmlinux {vmlinux}: {e.strerror}") from None
        with f:
            try:
                elf = ELFFile(f)
            except ELFError as e:
                raise KqualError(f"{vmlinux} is not an ELF file ({e}): give the vmlinux") from None
            symtab = elf.get_section_by_name(".symtab")
            if not isinstance(symtab, SymbolTableSection):
                raise KqualError(f"{vmlinux} has no symbol table (stripped?)")
            sections = [s.name for s in elf.iter_sections()]
            strtab = elf.get_section(symtab["sh_link"]).data()
            data = symtab.data()
            fmt = ("<" if elf.little_endian else ">") + ("IIIBBH" if elf.elfclass == 32 else "")
            if elf.elfclass != 32 or symtab["sh_entsize"] != struct.calcsize(fmt):
                raise KqualError(f"{vmlinux}: not a 32-bit ELF symbol table")
        funcs = []
        for name_at, value, size, info, _other, shndx in struct.iter_unpack(fmt, data):
            if info & 0xF != STT_FUNC or not value or not name_at:
                continue
            name = strtab[name_at : strtab.index(b"\0", name_at)].decode(errors="replace")
            section = sections[shndx] if 0 < shndx < len(sections) else ""
            funcs.append(Function(name, value & ~1, size, section))
        return cls(funcs)

    def lookup(self, pc: int) -> Function | None:
        """The function holding pc; a size-0 symbol reaches to the next one."""
        i = bisect.bisect_right(self._starts, pc) - 1
        if i < 0:
            return None
        f = self.functions[i]
        if f.size:
            return f if pc < f.start + f.size else None
        nxt = self._starts[i + 1] if i + 1 < len(self._starts) else None
        return f if nxt is not None and pc < nxt else None

    def address(self, name: str) -> int:
        f = self.by_name.get(name)
        if f is None:
            raise KqualError(f"symbol '{name}' not found in vmlinux")
        return f.start
