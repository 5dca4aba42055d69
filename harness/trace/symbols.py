"""Kernel function symbols from vmlinux, for mapping a pc to a function."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ..core.errors import KqualError

STT_FUNC = 2
_ELF32_SYM = (
    ("name", "u4"),
    ("value", "u4"),
    ("size", "u4"),
    ("info", "u1"),
    ("other", "u1"),
    ("shndx", "u2"),
)


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
        self.source: Path | None = None  # the file it was read from
        # One function per start address: of aliases, the sized one wins.
        best: dict[int, Function] = {}
        for f in functions:
            if f.start not in best or f.size > best[f.start].size:
                best[f.start] = f
        self.functions = sorted(best.values(), key=lambda f: f.start)
        self._starts = [f.start for f in self.functions]
        self.by_name = {f.name: f for f in functions}
        # Where each function ends for lookup: its size, or (size 0) the next start.
        nexts = self._starts[1:] + [self._starts[-1] if self._starts else 0]
        self._ends = [
            f.start + f.size if f.size else n for f, n in zip(self.functions, nexts, strict=True)
        ]

    @classmethod
    def from_vmlinux(cls, vmlinux: Path) -> SymbolTable:
        """Function symbols, read in one pass over .symtab.

        pyelftools reads the headers; the entries are read as one numpy record
        array, far faster than its per-symbol objects on a 70 MB vmlinux.
        """
        try:
            f = open(vmlinux, "rb")
        except OSError as e:
            raise KqualError(f"cannot read vmlinux {vmlinux}: {e.strerror}") from None
        with f:
            try:
                elf = ELFFile(f)
                symtab = elf.get_section_by_name(".symtab")
                if not isinstance(symtab, SymbolTableSection):
                    raise KqualError(f"{vmlinux} has no symbol table (stripped?)")
                sections = [s.name for s in elf.iter_sections()]
                strtab = elf.get_section(symtab["sh_link"]).data()
                data = symtab.data()
            except (ELFError, struct.error, ValueError) as e:
                raise KqualError(
                    f"{vmlinux} is not an ELF file or is cut short ({e}): give the whole vmlinux"
                ) from None
            order = "<" if elf.little_endian else ">"
            sym = np.dtype([(k, order + t) for k, t in _ELF32_SYM])
            if elf.elfclass != 32 or symtab["sh_entsize"] != sym.itemsize:
                raise KqualError(f"{vmlinux}: not a 32-bit ELF symbol table")
            if len(data) < symtab["sh_size"] or len(strtab) == 0:
                raise KqualError(f"{vmlinux} is cut short: its symbol table is incomplete")
        syms = np.frombuffer(data, sym, len(data) // sym.itemsize)
        syms = syms[((syms["info"] & 0xF) == STT_FUNC) & (syms["value"] != 0) & (syms["name"] != 0)]
        funcs = []
        for name_at, value, size, shndx in zip(
            syms["name"].tolist(),
            syms["value"].tolist(),
            syms["size"].tolist(),
            syms["shndx"].tolist(),
            strict=True,
        ):
            name = strtab[name_at : strtab.index(b"\0", name_at)].decode(errors="replace")
            section = sections[shndx] if 0 < shndx < len(sections) else ""
            funcs.append(Function(name, value & ~1, size, section))
        table = cls(funcs)
        table.source = vmlinux
        return table

    @property
    def text_span(self) -> tuple[int, int]:
        """[first, last) address of the functions that stay after boot: .init is
        freed, and on a nommu kernel user programs may then run from its pages."""
        kept = [f for f in self.functions if not f.is_init]
        if not kept:
            return (0, 0)
        return min(f.start for f in kept), max(f.start + f.size for f in kept)

    def lookup_many(self, pcs: list[int]) -> list[Function | None]:
        """The function holding each pc (a size-0 symbol reaches to the next one), or None."""
        if not self.functions or not pcs:
            return [None] * len(pcs)
        at = np.asarray(pcs, np.uint64)
        i = np.searchsorted(np.asarray(self._starts, np.uint64), at, side="right") - 1
        inside = (i >= 0) & (at < np.asarray(self._ends, np.uint64)[np.maximum(i, 0)])
        fs = self.functions
        return [fs[k] if ok else None for k, ok in zip(i.tolist(), inside.tolist(), strict=True)]

    def address(self, name: str) -> int:
        f = self.by_name.get(name)
        if f is None:
            where = self.source or "vmlinux"
            raise KqualError(
                f"symbol '{name}' not found in {where}: is it this kernel's vmlinux "
                "(not linux.axf, Image or another build's)?"
            )
        return f.start
