"""What the search tries: knobs from configs/rules/knobs.yaml, and options
whose objects' code never ran in the workload's `full` profile (largest first).

A proposal must change the base's .config (an option already off, or already
at the knob's value, is not tried) and must not touch what the target's own
fragments require, unless the knob names that option itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..kernel.kconfig import parse_config, parse_fragment
from ..settings.change import Change, ChangeSource
from .footprint import Footprint


def required_options(target_fragments: list[Path]) -> dict[str, str]:
    """What the target's fragments set: a trial may not change these as a side effect."""
    return {r.name: r.value for frag in target_fragments for r in parse_fragment(frag)}


def trace_changes(
    fps: dict[str, Footprint],
    base_config: dict[str, str],
    prompted: set[str],
    required: dict[str, str],
    min_bytes: int,
) -> list[Change]:
    out = []
    for fp in fps.values():
        if fp.ran or fp.bytes < min_bytes:
            continue
        if base_config.get(fp.option) != "y" or fp.option not in prompted:
            continue  # already off, or set only through what selects it
        if fp.option in required:
            continue
        why = (
            f"{len(fp.objects)} object(s), {fp.functions} functions, none ran in the "
            f"workload (outside .init): {', '.join(fp.objects[:3])}"
        )
        out.append(
            Change(((fp.option, "n"),), why, ChangeSource.TRACE, fp.bytes, {"objects": fp.objects})
        )
    return out


ALREADY_SET = "the base already has this value"


def proposals(
    knobs: list[Change], traced: list[Change], base_config: dict[str, str]
) -> tuple[list[Change], list[tuple[Change, str]]]:
    """Trials in order (largest expected saving first) and the proposals left out, with why."""
    chosen: dict[str, Change] = {}
    skipped: list[tuple[Change, str]] = []
    for change in [*knobs, *traced]:
        if all(base_config.get(k, "n") == v for k, v in change.values):
            skipped.append((change, ALREADY_SET))
            continue
        options = {k for k, _ in change.values}
        clash = next((c for c in chosen.values() if options & {k for k, _ in c.values}), None)
        if clash is not None:
            skipped.append((change, f"overlaps the knob {clash.label}"))
            continue
        chosen[change.digest] = change
    ordered = sorted(chosen.values(), key=lambda c: (-c.expect_bytes, c.label))
    return ordered, skipped


def patched_knobs(
    knobs: list[Change], has: Callable[[str], bool]
) -> tuple[list[Change], list[tuple[Change, str]]]:
    """The knobs this tree can take; those whose option comes from a patch of ours
    that the tree did not take are left out, with why."""
    usable = [k for k in knobs if not k.needs or has(k.needs)]
    unmet = [
        (k, f"needs our kernel patch for {k.needs}, which this tree did not take")
        for k in knobs
        if k.needs and not has(k.needs)
    ]
    return usable, unmet


def base_config_of(results: Path) -> dict[str, str]:
    return parse_config(results / "kernel.config")
