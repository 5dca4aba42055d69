"""What the search leaves: the bytes-per-option table, minimal.config, a waterfall chart."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core import figures
from ..settings.change import ChangeSource
from .search import SearchResult
from .trial import TrialOutcome

SECTIONS = ("text", "rodata", "data", "init", "unwind")


def table(result: SearchResult, full_build: FullBuild | None = None) -> str:
    """One row per trial, then the combinations: saving, outcome and time; then
    what a trial's build cost against a full build."""
    head = (
        f"{'trial':<44} {'rnd':>3} {'source':<6} {'saved':>9} "
        + " ".join(f"{s:>8}" for s in SECTIONS)
        + f" {'secs':>5}  outcome"
    )
    lines = [head]
    rows = sorted(result.outcomes, key=lambda o: (o.round, -(o.saved_bytes or 0)))
    for o in [*rows, *result.combinations]:
        lines.append(_row(o, result))
    if result.failed_together:
        lines.append(
            "passed alone, failed in the combination: " + ", ".join(result.failed_together)
        )
    if result.skipped:
        lines.append(
            f"not tried ({len(result.skipped)}): "
            + "; ".join(f"{s['label']}: {s['why']}" for s in result.skipped[:12])
        )
    for r in result.rounds:
        lines.append(
            f"round {r['round']} on {r['base']}: {r['trials']} trial(s), "
            f"{len(r['accepted'])} accepted, {r['saved_bytes']:,} bytes"
            + (f" -> {r['best']}" if r["best"] else "")
        )
    lines.append(trial_cost(result.outcomes, full_build).line)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class FullBuild:
    """A candidate built from an empty folder in this run, and how long it took."""

    candidate: str
    seconds: float


@dataclass(frozen=True)
class TrialCost:
    mean_seconds: float | None  # over the trials whose kernel was rebuilt here
    trials: int
    full: FullBuild | None

    @property
    def ratio(self) -> float | None:
        if self.mean_seconds is None or self.full is None or self.full.seconds <= 0:
            return None
        return self.mean_seconds / self.full.seconds

    @property
    def line(self) -> str:
        if self.mean_seconds is None:
            return "trial cost: no trial's kernel was built in this run (all up to date)"
        mean = f"trial cost: mean kernel build {self.mean_seconds:.0f} s over {self.trials} trials"
        if self.full is None or self.ratio is None:
            return mean + "; no full build of the baseline was timed to compare with"
        return (
            f"{mean}, against {self.full.seconds:.0f} s for {self.full.candidate} "
            f"built from an empty folder: {self.ratio:.2f} of a full build (goal: 1/3 or less)"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "mean_seconds": self.mean_seconds,
            "trials": self.trials,
            "full": asdict(self.full) if self.full else None,
            "ratio": self.ratio,
        }


def trial_cost(outcomes: list[TrialOutcome], full: FullBuild | None) -> TrialCost:
    built = [o.build_seconds for o in outcomes if o.build_seconds]
    mean = sum(built) / len(built) if built else None
    return TrialCost(mean, len(built), full)


def _row(o: TrialOutcome, result: SearchResult) -> str:
    label = (
        o.label if o.source != ChangeSource.COMBINATION else f"[{len(o.values)} options together]"
    )
    verdict: str = o.verdict
    if o.accepted and o.source != ChangeSource.COMBINATION:
        verdict = (
            "accepted"
            if o.label in {a.label for a in result.accepted}
            else ("accepted alone, not in the final image")
        )
    detail = f": {o.detail}" if o.detail else ""
    saved = f"{o.saved_bytes:,}" if o.saved_bytes is not None else "-"
    secs = " ".join(
        f"{o.saved_sections.get(s, 0):>8,}" if o.saved_sections else f"{'-':>8}" for s in SECTIONS
    )
    head = f"{label[:44]:<44} {o.round:>3} {o.source[:6]:<6} {saved:>9} {secs} {o.seconds:>5.0f}"
    return f"{head}  {verdict}{detail[:160]}"


def minimal_config(fragments: list[Path], values_note: str, again: list[str]) -> str:
    """One fragment that, merged over the target's config, builds the image, with
    the derivations (`again`) whose part of it no option holds."""
    out = [
        "# kqual size_search: the image's options over the target's config",
        "# (defconfig + the target's fragments); a kernel compressor chosen here",
        "# means the zImage is booted. What is no option (a pruned syscall table)",
        "# comes from these derivations of the same cycle:",
        f"# {', '.join(again) or 'none'}",
        f"# {values_note}",
    ]
    for frag in fragments:
        out.append(f"# from {frag.name}")
        out += [ln for ln in frag.read_text().splitlines() if ln.strip()]
    return "\n".join(out) + "\n"


MINIMAL_PATCHES = "minimal.patches"  # beside minimal.config: the tree it applies to


def minimal_patches(version: str, patches: list[Path]) -> str:
    """The kernel patches, in order, that minimal.config's image was built with,
    each with its sha256: the two together rebuild the image from the same tree."""
    out = [
        f"# kqual size_search: the kernel patches applied, in this order, to Linux {version}",
        "# before minimal.config is merged; each with the sha256 of its file.",
    ]
    out += [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in patches]
    return "\n".join(out) + "\n"


def waterfall(steps: list[tuple[str, int, dict[str, int]]], out: Path) -> list[Path]:
    """Bytes from the baseline through each accepted step to the final image.

    steps: (label, linux.axf bytes after the step, section sizes after it).
    Written as PNG and SVG next to the summary.
    """
    plt = figures.pyplot()

    fig, (ax, bx) = plt.subplots(
        2, 1, figsize=(max(8, len(steps) * 0.9), 9), gridspec_kw={"height_ratios": [3, 2]}
    )
    labels = [s[0] for s in steps]
    sizes = [s[1] for s in steps]
    for i, size in enumerate(sizes):
        if i == 0 or i == len(steps) - 1:
            ax.bar(i, size, color="#4c72b0")
        else:
            prev = sizes[i - 1]
            ax.bar(i, prev - size, bottom=size, color="#55a868" if size <= prev else "#c44e52")
        ax.text(i, size, f"{size / 1024:.0f}K", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(steps)), labels, rotation=40, ha="right", fontsize=7)
    ax.set_ylabel("linux.axf bytes")
    ax.set_title("size_search: from the baseline to the selected image")
    bottom = [0] * len(steps)
    for name in SECTIONS:
        vals = [s[2].get(name, 0) for s in steps]
        bx.bar(range(len(steps)), vals, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    bx.set_xticks(range(len(steps)), labels, rotation=40, ha="right", fontsize=7)
    bx.set_ylabel("vmlinux bytes by section")
    bx.legend(fontsize=7, ncol=len(SECTIONS))
    fig.tight_layout()
    return figures.save(fig, out)
