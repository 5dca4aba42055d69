"""Symbol size deltas between two vmlinux files, in the manner of bloat-o-meter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection


def symbol_sizes(vmlinux: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    with open(vmlinux, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        symbols = symtab.iter_symbols() if isinstance(symtab, SymbolTableSection) else []
        for s in symbols:
            if s["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT") and s["st_size"] and s.name:
                sizes[s.name] = sizes.get(s.name, 0) + s["st_size"]
    return sizes


@dataclass
class Bloat:
    added: int
    removed: int
    grown: int
    shrunk: int
    up: int
    down: int
    deltas: list[tuple[str, int, int, int]]  # name, old, new, delta; largest first

    @property
    def total(self) -> int:
        return self.up + self.down

    def header(self) -> str:
        return (
            f"add/remove: {self.added}/{self.removed} grow/shrink: {self.grown}/{self.shrunk} "
            f"up/down: {self.up}/{self.down} ({self.total})"
        )


def compare(old: dict[str, int], new: dict[str, int]) -> Bloat:
    deltas = []
    for name in set(old) | set(new):
        a, b = old.get(name, 0), new.get(name, 0)
        if a != b:
            deltas.append((name, a, b, b - a))
    deltas.sort(key=lambda d: (-abs(d[3]), d[0]))
    return Bloat(
        added=sum(1 for _, a, _, _ in deltas if a == 0),
        removed=sum(1 for _, _, b, _ in deltas if b == 0),
        grown=sum(1 for _, a, b, d in deltas if a and b and d > 0),
        shrunk=sum(1 for _, a, b, d in deltas if a and b and d < 0),
        up=sum(d for *_, d in deltas if d > 0),
        down=sum(d for *_, d in deltas if d < 0),
        deltas=deltas,
    )
