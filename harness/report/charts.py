"""Charts next to a cycle's summary (matplotlib, PNG and SVG): size against
guest time per candidate. The search's waterfall is drawn by search.report."""

from __future__ import annotations

from pathlib import Path

from ..core import figures
from ..core.verdicts import Reason
from .summary import Summary


def size_vs_time(summary: Summary, out: Path) -> list[Path]:
    """One point per candidate that has both figures; the selected one marked."""
    plt = figures.pyplot()

    points = [
        (name, d.linux_axf_bytes, d.guest_shell_ready_ms, d.reason)
        for name, d in summary.candidates.items()
        if d.linux_axf_bytes and d.guest_shell_ready_ms
    ]
    if not points:
        return []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, size, ms, reason in points:
        selected = reason == Reason.SELECTED
        ax.scatter(
            ms,
            size / 1024,
            s=60 if selected else 30,
            color="#c44e52" if selected else "#4c72b0",
            zorder=3,
        )
        ax.annotate(
            name + (" (selected)" if selected else ""),
            (ms, size / 1024),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=8,
        )
    ax.set_xlabel("guest shell_ready_ms (under -icount)")
    ax.set_ylabel("linux.axf KiB")
    ax.set_title(f"cycle {summary.cycle}: size against boot time")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return figures.save(fig, out)
