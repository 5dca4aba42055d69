"""Apply a folder of patches as a quilt-style series.

The order comes from the folder's `series` file (one patch name per line, '#'
comments), or from sorted *.patch names when there is none.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import ConfigError
from ..core.runner import run_logged


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


def apply_series(folder: Path, tree: Path, log: Path, step: str) -> list[Path]:
    applied = series(folder)
    for p in applied:
        run_logged(
            ["patch", "-p1", "--forward", "--batch", "-i", p],
            log,
            f"{step}: {p.name}",
            cwd=tree,
            append=True,
        )
    return applied
