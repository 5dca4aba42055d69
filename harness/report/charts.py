"""Charts next to a cycle's summary (matplotlib, PNG and SVG): size against
guest time per candidate. The search's waterfall is drawn by search.report."""

from __future__ import annotations

from pathlib import Path

from ..core import figures
from ..core.verdicts import Reason
from .summary import Summary

# Each decision's marker and colour; a chart's legend lists those it shows.
DECISION_STYLE: dict[str, tuple[str, str]] = {
    Reason.SELECTED: ("*", "#c44e52"),
    Reason.LARGER_THAN_SELECTED: ("o", "#4c72b0"),
    Reason.QUALIFIED: ("o", "#55a868"),
    Reason.AT_RISK: ("X", "#dd8452"),
    Reason.REJECTED_BOOT_REGRESSION: ("v", "#8172b2"),
    Reason.ENOSYS: ("P", "#937860"),
    Reason.OVER_BUDGET: ("s", "#da8bc3"),
    Reason.FAILED_WORKLOAD: ("D", "#8c8c8c"),
    Reason.NOT_REPRODUCED: ("d", "#ccb974"),
}
OTHER_STYLE = ("^", "#64b5cd")


def size_time_figure(summary: Summary):
    """The figure and its labels: one point per candidate with both figures,
    its marker saying its decision."""
    plt = figures.pyplot()
    points = [
        (name, d.linux_axf_bytes, d.guest_shell_ready_ms, d.reason)
        for name, d in summary.candidates.items()
        if d.linux_axf_bytes and d.guest_shell_ready_ms
    ]
    if not points:
        return None, []
    fig, ax = plt.subplots(figsize=(8, 5))
    for reason in dict.fromkeys(r for *_, r in points):
        marker, color = DECISION_STYLE.get(reason, OTHER_STYLE)
        mine = [(ms, size / 1024) for _, size, ms, r in points if r == reason]
        ax.scatter(
            [m for m, _ in mine],
            [k for _, k in mine],
            marker=marker,
            s=140 if reason == Reason.SELECTED else 45,
            color=color,
            label=str(reason),
            zorder=2 if reason == Reason.SELECTED else 3,  # a point on the star shows on it
        )
    ax.set_xlabel("guest shell_ready_ms (under -icount)")
    ax.set_ylabel("linux.axf KiB")
    ax.set_title(f"cycle {summary.cycle}: size against boot time")
    ax.grid(alpha=0.3)
    ax.margins(x=0.25, y=0.15)  # room for the labels
    ax.legend(fontsize=8, title="decision", title_fontsize=8, loc="best")
    fig.tight_layout()
    labels = figures.label_apart(ax, [(ms, size / 1024, name) for name, size, ms, _ in points])
    return fig, labels


def size_vs_time(summary: Summary, out: Path) -> list[Path]:
    fig, _ = size_time_figure(summary)
    return [] if fig is None else figures.save(fig, out)


PHASE_COLORS = ("#8172b2", "#4c72b0", "#55a868", "#dd8452", "#937860", "#c44e52", "#64b5cd")


def boot_phases(summary: Summary, out: Path) -> list[Path]:
    """Stacked bars: each candidate's guest boot, phase by phase (its initcall boot)."""
    cands = {n: d.boot_phases for n, d in summary.candidates.items() if d.boot_phases}
    if not cands:
        return []
    plt = figures.pyplot()
    phases = list(next(iter(cands.values())))
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.5 * len(cands)))
    names = list(cands)
    left = [0.0] * len(names)
    for i, phase in enumerate(phases):
        widths = [cands[n].get(phase, 0.0) for n in names]
        ax.barh(names, widths, left=left, color=PHASE_COLORS[i % len(PHASE_COLORS)], label=phase)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.invert_yaxis()  # the baseline on top, as in the summary
    ax.set_xlabel("guest ms (initcall_debug boot under -icount)")
    ax.set_title(f"cycle {summary.cycle}: where boot time goes")
    ax.legend(
        fontsize=7,
        ncol=len(phases),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25 - 0.02 * len(cands)),
    )
    fig.tight_layout()
    return figures.save(fig, out)
