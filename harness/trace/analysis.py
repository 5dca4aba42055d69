"""From one parsed trace: hits per function, concentration, order files, syscalls."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..core import jsonfile
from .parser import RawTrace, classify
from .symbols import SymbolTable

TOP_N = (8, 16, 32, 64, 128)
HOT_COVERAGE = 0.90  # the hot order file holds the functions covering this share of hits
# Ordering pays when few functions hold most executed blocks: the top 32 at
# least 30% and the top 64 at least 50%.
LAYOUT_RULE = {"top32": 0.30, "top64": 0.50}
PAGE, LINE = 4096, 32  # locality units: a 4 KiB page, a 32-byte cache line
_INT_KEYED = (
    "syscalls",
    "private_syscalls",
    "invalid_syscalls",
    "syscall_first_block",
    "syscall_names",
)


@dataclass
class Profile:
    blocks: int
    matched: int
    orphans: int
    syscalls: dict[int, int]
    private_syscalls: dict[int, int]
    invalid_syscalls: dict[int, int]
    syscall_first_block: dict[int, list[int]]
    syscall_names: dict[int, str]
    symbols: dict[str, int]  # hits, most first
    first_seen: list[str]
    concentration: dict[str, float] = field(default_factory=dict)
    layout_recommended: bool = False
    hot: list[str] = field(default_factory=list)
    locality: dict[str, int] = field(default_factory=dict)
    truncated: str | None = None  # what a non-strict parse left out of a cut trace

    def as_json(self) -> dict:
        # Shallow on purpose: asdict() deep-copies thousands of entries for nothing.
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in _INT_KEYED:
            d[key] = {str(k): v for k, v in d[key].items()}
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        """The profile as_json() wrote (syscall numbers back to ints)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"not a profile: unknown keys {sorted(unknown)}")
        values = dict(data)
        for key in _INT_KEYED:
            values[key] = {int(k): v for k, v in values[key].items()}
        return cls(**values)


def analyze(raw: RawTrace, symtab: SymbolTable, names: dict[int, str]) -> Profile:
    hits: Counter[str] = Counter()
    first_seen: list[str] = []
    matched = 0
    # Each distinct pc symbolized once, in first-seen order.
    for n, f in zip(raw.pc_hits.values(), symtab.lookup_many(list(raw.pc_hits)), strict=True):
        if f is None:
            continue
        matched += n
        if f.name not in hits:
            first_seen.append(f.name)
        hits[f.name] += n
    table: Counter[int] = Counter()
    private: Counter[int] = Counter()
    invalid: Counter[int] = Counter()
    first_block: dict[int, list[int]] = {}
    for i, r7 in enumerate(raw.syscall_r7):
        if r7 is None:
            continue
        {"table": table, "private": private, "invalid": invalid}[classify(r7)][r7] += 1
        sites = first_block.setdefault(r7, [])
        if len(sites) < 3:
            sites.append(i)
    ranked = hits.most_common()
    total = sum(hits.values()) or 1
    concentration = {f"top{n}": round(sum(h for _, h in ranked[:n]) / total, 4) for n in TOP_N}
    hot_names: set[str] = set()
    acc = 0
    for name, h in ranked:
        if acc >= HOT_COVERAGE * total:
            break
        hot_names.add(name)
        acc += h
    return Profile(
        blocks=raw.blocks,
        matched=matched,
        orphans=raw.orphans,
        syscalls=dict(sorted(table.items())),
        private_syscalls=dict(sorted(private.items())),
        invalid_syscalls=dict(sorted(invalid.items())),
        syscall_first_block=first_block,
        syscall_names={n: names[n] for n in table if n in names},
        symbols=dict(ranked),
        first_seen=first_seen,
        concentration=concentration,
        layout_recommended=concentrated(concentration),
        hot=[n for n, _ in ranked if n in hot_names],  # hottest first: fewest pages hold most
        locality=locality(raw, symtab),
        truncated=raw.truncated,
    )


def concentrated(concentration: dict[str, float]) -> bool:
    return all(concentration.get(k, 0) >= v for k, v in LAYOUT_RULE.items())


def locality(raw: RawTrace, symtab: SymbolTable) -> dict[str, int]:
    """How many 4 KiB pages of kernel .text ran at all, and the fewest pages and
    32-byte lines holding 90% of executed blocks (each counted at its start)."""
    text = [f for f in symtab.functions if f.section == ".text"]
    if not text:
        return {}
    lo, hi = min(f.start for f in text), max(f.start + f.size for f in text)
    pages: Counter[int] = Counter()
    lines: Counter[int] = Counter()
    for pc, n in raw.pc_hits.items():
        if lo <= pc < hi:
            pages[pc // PAGE] += n
            lines[pc // LINE] += n
    return {
        "text_pages": len(pages),
        "hot90_pages": _fewest_holding(pages, 0.90),
        "hot90_lines": _fewest_holding(lines, 0.90),
    }


def _fewest_holding(counts: Counter[int], share: float) -> int:
    total = sum(counts.values())
    acc = taken = 0
    for _, n in counts.most_common():
        if acc >= share * total:
            break
        acc += n
        taken += 1
    return taken


def write_outputs(profile: Profile, out: Path) -> list[Path]:
    """profile.json plus the text files a kernel engineer reads."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "profile.json": jsonfile.dumps("profile", profile.as_json()),
        "hot.order": "".join(f"{n}\n" for n in profile.hot),
        "full.order": "".join(f"{n}\n" for n in profile.first_seen),
        "hits.txt": "".join(f"{h:>10} {n}\n" for n, h in profile.symbols.items()),
        "syscalls.txt": _syscall_report(profile),
        "summary.txt": _summary(profile),
    }
    for name, text in files.items():
        (out / name).write_text(text)
    return [out / n for n in files]


def _syscall_report(p: Profile) -> str:
    lines = [f"{'nr':>5} {'name':<24} {'count':>7}  first blocks"]
    for nr, count in p.syscalls.items():
        name = p.syscall_names.get(nr, "?")
        lines.append(f"{nr:>5} {name:<24} {count:>7}  {p.syscall_first_block.get(nr, [])}")
    if p.private_syscalls:
        lines.append("ARM private calls (not in the table):")
        lines += [f"  {nr:#x}: {c}" for nr, c in p.private_syscalls.items()]
    if p.invalid_syscalls:
        lines.append("out-of-range numbers:")
        lines += [f"  {nr}: {c}" for nr, c in p.invalid_syscalls.items()]
    return "\n".join(lines) + "\n"


def _summary(p: Profile) -> str:
    conc = ", ".join(f"{k} {v:.1%}" for k, v in p.concentration.items())
    return (
        (f"TRUNCATED: {p.truncated}\n" if p.truncated else "")
        + f"blocks {p.blocks}, matched to kernel functions {p.matched}, "
        f"functions hit {len(p.symbols)}\n"
        f"syscall blocks {sum(p.syscalls.values()) + p.orphans}: {len(p.syscalls)} distinct "
        f"table numbers, {sum(p.private_syscalls.values())} private calls, "
        f"{p.orphans} without a register dump\n"
        f"concentration: {conc}\n"
        f"layout ordering {'recommended' if p.layout_recommended else 'not recommended'} "
        f"(top32 >= 30% and top64 >= 50%); note a Cortex-M3 has no I-cache\n"
        + (
            f"locality: {p.locality['text_pages']} pages of .text ran; 90% of blocks in "
            f"{p.locality['hot90_pages']} pages, {p.locality['hot90_lines']} 32-byte lines\n"
            if p.locality
            else ""
        )
    )
