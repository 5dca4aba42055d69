"""Apply a folder of patches as a quilt-style series.

The order comes from the folder's `series` file (one patch name per line, '#'
comments), or from sorted *.patch names when there is none.
"""

from __future__ import annotations

from pathlib import Path

from ..core.runner import run_logged
from ..settings.patches import series


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
