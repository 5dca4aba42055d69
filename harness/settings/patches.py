"""A folder of patches as a quilt-style series: the order comes from its `series`
file (one patch name per line, '#' comments), or from sorted *.patch names."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import ConfigError


def series(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    listing = folder / "series"
    if not listing.exists():
        return sorted(folder.glob("*.patch"))
    out = []
    for n, raw in enumerate(listing.read_text().splitlines(), 1):
        name = raw.split("#", 1)[0].strip()
        if not name:
            continue
        p = folder / name
        if not p.is_file():
            raise ConfigError(listing, n, f"patch '{name}' is listed but {p} does not exist")
        out.append(p)
    return out
