"""A link's System.map (address, type, name per line), read in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MapSymbol:
    address: int
    kind: str  # nm's type letter: t/T text, w/W weak, d/D data, ...
    name: str


def read_system_map(path: Path) -> list[MapSymbol]:
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append(MapSymbol(int(parts[0], 16), parts[1], parts[2]))
    return out


def first_addresses(path: Path) -> dict[str, int]:
    """Each name's first address in the map."""
    out: dict[str, int] = {}
    for s in read_system_map(path):
        out.setdefault(s.name, s.address)
    return out
