"""Size for time: the trials' linux.axf bytes against guest shell-ready time.

A trial the regression rule rejects (the xz initramfs: smaller, but slower to
unpack) is still a choice for someone who trades boot time for bytes; the
front shows which trials are worth it, and what each millisecond buys. The
cycle's regression tolerance is where that trade is set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core import figures
from .trial import TrialOutcome, Verdict

# The verdicts a point on the front may have: qualified, or rejected for time only.
ON_FRONT = (Verdict.ACCEPTED, Verdict.REGRESSION)


@dataclass(frozen=True)
class Point:
    label: str
    linux_axf_bytes: int
    guest_ms: float
    verdict: str  # the trial's verdict; "base" for the search's base

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def points(base: Point, outcomes: list[TrialOutcome]) -> list[Point]:
    """The base and every trial (and combination) measured for both figures."""
    out = [base]
    for o in outcomes:
        if o.verdict in ON_FRONT and o.linux_axf_bytes is not None and o.guest_ms is not None:
            out.append(Point(o.label, o.linux_axf_bytes, o.guest_ms, o.verdict))
    return out


def pareto(pts: list[Point]) -> list[Point]:
    """The points no other beats on both bytes and time, smallest first."""
    front: list[Point] = []
    for p in sorted(pts, key=lambda p: (p.linux_axf_bytes, p.guest_ms)):
        if not front or p.guest_ms < front[-1].guest_ms:
            front.append(p)
    return front


def bytes_per_ms(base: Point, p: Point) -> float | None:
    """Bytes saved against the base per millisecond of boot time given up (None: free)."""
    slower = p.guest_ms - base.guest_ms
    return (base.linux_axf_bytes - p.linux_axf_bytes) / slower if slower > 0 else None


def front_table(base: Point, pts: list[Point], tolerance: float, baseline_ms: float) -> str:
    """The front; `baseline_ms` is what the regression gate compares with (the
    cycle's baseline, not the search's base: a trial may be slower than its base)."""
    front = pareto(pts)
    limit = baseline_ms * (1 + tolerance)
    lines = [
        f"size for time (guest shell-ready under -icount; the cycle allows up to "
        f"{limit:.3f} ms, +{tolerance:.0%} on the baseline's {baseline_ms:.3f} ms; "
        f"saved and +ms against the search's base):",
        f"  {'point':<44}{'linux.axf':>11}{'guest ms':>10}{'saved':>10}{'+ms':>8}"
        f"{'bytes/ms':>10}  verdict",
    ]
    for p in front:
        per = bytes_per_ms(base, p)
        extra = p.guest_ms - base.guest_ms
        lines.append(
            f"  {p.label[:43]:<44}{p.linux_axf_bytes:>11,}{p.guest_ms:>10.3f}"
            f"{base.linux_axf_bytes - p.linux_axf_bytes:>10,}{extra:>+8.3f}"
            f"{'free' if per is None else f'{per:,.0f}':>10}  {p.verdict}"
        )
    off = len(pts) - len(front)
    if off:
        lines.append(f"  ({off} more measured points are beaten on both bytes and time)")
    return "\n".join(lines) + "\n"


def front_chart(
    base: Point, pts: list[Point], tolerance: float, baseline_ms: float, out: Path
) -> list[Path]:
    """Bytes against time, each verdict by its marker, the front as a line (PNG, SVG)."""
    plt = figures.pyplot()

    fig, ax = plt.subplots(figsize=(9, 6))
    styles = {
        "base": ("s", "#4c72b0", "search base"),
        Verdict.ACCEPTED: ("o", "#55a868", "qualified"),
        Verdict.REGRESSION: ("x", "#c44e52", "rejected: boot regression only"),
    }
    for verdict, (marker, color, label) in styles.items():
        mine = [p for p in pts if p.verdict == verdict]
        if mine:
            ax.scatter(
                [p.guest_ms for p in mine],
                [p.linux_axf_bytes for p in mine],
                marker=marker,
                color=color,
                label=label,
                zorder=3,
            )
    front = pareto(pts)
    ax.plot(
        [p.guest_ms for p in front],
        [p.linux_axf_bytes for p in front],
        color="#8172b2",
        linestyle="--",
        label="front",
        zorder=2,
    )
    ax.axvline(baseline_ms * (1 + tolerance), color="grey", linestyle=":", label="regression gate")
    ax.set_xlabel("guest shell-ready ms (-icount)")
    ax.set_ylabel("linux.axf bytes")
    ax.set_title("size_search: size for time")
    ax.margins(x=0.2, y=0.1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures.label_apart(  # the front's points only: the rest are in search.txt
        ax, [(p.guest_ms, p.linux_axf_bytes, p.label[:28]) for p in front], fontsize=7
    )
    return figures.save(fig, out)
