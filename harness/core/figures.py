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


# Where a label may sit around its point (side, vertical offset in points):
# beside it first, then further up or down; the first spot that overlaps no
# other label and no marker, inside the axes, wins.
_SPOTS = [
    (side, dy * r)
    for r in (1, 2, 3, 5, 8)
    for side, dy in (("right", 3), ("right", -11), ("left", 3), ("left", -11))
]
_GAP = 6  # points between a marker and its label


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def label_apart(ax: Any, points: list[tuple[float, float, str]], fontsize: float = 8) -> list[Any]:
    """Annotate each (x, y, text) so that no two labels overlap and none covers a
    marker; a label pushed away from its point gets a leader line. Returns the
    annotations. Call it once the axes' limits are final."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0
    r = 5 * px
    centers = [tuple(ax.transData.transform((x, y))) for x, y, _ in points]
    markers = [(cx - r, cy - r, cx + r, cy + r) for cx, cy in centers]
    frame = ax.get_window_extent(renderer)
    placed: list[tuple[float, ...]] = []
    out = []
    for (x, y, text), (cx, cy) in sorted(zip(points, centers, strict=True), key=lambda t: t[1]):
        probe = ax.annotate(text, (x, y), fontsize=fontsize)
        ext = probe.get_window_extent(renderer)
        probe.remove()
        best: tuple[int, float, float, tuple[float, ...]] | None = None
        for side, dy in _SPOTS:
            ox = _GAP * px if side == "right" else -_GAP * px - ext.width
            oy = dy * px
            box = (cx + ox, cy + oy, cx + ox + ext.width, cy + oy + ext.height)
            inside = frame.x0 <= box[0] and box[2] <= frame.x1 and frame.y0 <= box[1]
            inside = inside and box[3] <= frame.y1
            cost = 10 * sum(_overlap(box, b) for b in placed + markers) + (0 if inside else 5)
            if best is None or cost < best[0]:
                best = (cost, ox, oy, box)
            if cost == 0:
                break
        assert best is not None
        _, ox, oy, spot = best
        ann = ax.annotate(
            text,
            (x, y),
            xytext=(ox / px, oy / px),
            textcoords="offset points",
            fontsize=fontsize,
            arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.6}
            if abs(oy) > 14 * px
            else None,
        )
        placed.append(spot)
        out.append(ann)
    return out
