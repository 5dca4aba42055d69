"""Did the text order apply? Read the link's System.map: the listed functions
must sit between __kqual_text_order_start and _end, in list order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import KqualError
from ..kernel.system_map import read_system_map

START, END = "__kqual_text_order_start", "__kqual_text_order_end"


class OrderNotApplied(KqualError):
    pass


@dataclass
class Placement:
    listed: int
    placed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # matched no function in the block
    several: dict[str, int] = field(default_factory=dict)  # name -> static functions matched
    out_of_order: list[str] = field(default_factory=list)
    start: int = 0
    end: int = 0

    @property
    def block_bytes(self) -> int:
        return self.end - self.start

    def report(self) -> str:
        lines = [
            f"listed {self.listed}, placed {len(self.placed)} in {self.block_bytes:,} bytes "
            f"at {self.start:#x}..{self.end:#x}, matched nothing {len(self.missing)}, "
            f"matched several static functions {len(self.several)}",
        ]
        if self.out_of_order:
            lines.append("out of list order: " + ", ".join(self.out_of_order[:20]))
        if self.several:
            lines.append("several: " + ", ".join(f"{n} x{c}" for n, c in self.several.items()))
        if self.missing:
            lines.append(
                "matched nothing (inlined, dropped, or in another section such as "
                ".sched.text or .init.text): " + ", ".join(self.missing)
            )
        return "\n".join(lines) + "\n"


def check_placement(system_map: Path, names: list[str]) -> Placement:
    addresses: dict[str, list[int]] = defaultdict(list)
    marks: dict[str, int] = {}
    for s in read_system_map(system_map):
        if s.name in (START, END):
            marks[s.name] = s.address
        elif s.kind in "tTwW":
            addresses[s.name].append(s.address)
    if START not in marks or END not in marks:
        raise OrderNotApplied(
            f"{system_map} has no {START}/{END}: the kernel tree lacks "
            "patches/linux/0002-text-order-include.patch"
        )
    p = Placement(len(names), start=marks[START], end=marks[END])
    last = -1
    for name in names:
        inside = [a for a in addresses.get(name, []) if p.start <= a < p.end]
        if not inside:
            p.missing.append(name)
            continue
        p.placed.append(name)
        if len(inside) > 1:
            p.several[name] = len(inside)
        first = min(inside)
        if first < last:
            p.out_of_order.append(name)
        last = max(last, first)
    return p
