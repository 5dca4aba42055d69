"""A folder of patches as a quilt-style series: the order comes from its `series`
file (one patch name per line, '#' comments), or from sorted *.patch names. A
single patch file is a series of one."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import ConfigError
from ..core.textfile import read_text


def series(folder: Path) -> list[Path]:
    """The patches in order. A folder that yields none is an error: a patch folder
    that applies nothing must not pass for one that applies our patches."""
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        return []
    listing = folder / "series"
    if not listing.exists():
        found = sorted(p for p in folder.glob("*.patch") if p.is_file())
        if not found:
            raise ConfigError(
                folder, None, "holds no 'series' file and no *.patch: no patch would apply"
            )
        return found
    if not listing.is_file():
        raise ConfigError(listing, None, "is a folder: the series is a file of patch names")
    out: list[Path] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(read_text(listing).splitlines(), 1):
        name = raw.split("#", 1)[0].strip()
        if not name:
            continue
        p = folder / name
        if "/" in name or name in (".", ".."):
            raise ConfigError(listing, n, f"'{name}' is not a patch file name in {folder}")
        if name in seen:
            raise ConfigError(
                listing, n, f"patch '{name}' is listed twice (first on line {seen[name]})"
            )
        if not p.is_file():
            what = "is a folder" if p.is_dir() else "does not exist"
            raise ConfigError(listing, n, f"patch '{name}' is listed but {p} {what}")
        seen[name] = n
        out.append(p)
    return out
