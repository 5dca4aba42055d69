"""The charts kqual writes: matplotlib without a display, each saved as PNG and SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only backend (imported when a chart is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, out: Path) -> list[Path]:
    """`out`.png and `out`.svg; the figure is closed."""
    paths = [out.with_name(out.name + ".png"), out.with_name(out.name + ".svg")]
    for path in paths:
        fig.savefig(path)
    pyplot().close(fig)
    return paths
