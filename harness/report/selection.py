"""Pick the smallest qualifying linux.axf of a cycle and write its summary.

Reads the result.json each candidate's tests wrote in this run (run_id), so
it works the same after a serial run and after pytest-xdist workers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..boot.census import CensusRecord, read_census
from ..boot.initcalls import read_timeline
from ..boot.losses import (
    Loss,
    interface_losses,
    judge,
    summarize,
    syscall_loss,
    syscall_losses,
)
from ..core import jsonfile
from ..core.verdicts import STEP_FAILURE, Reason, StepName
from ..kernel.implemented import syscall_name
from ..settings.cycles import CycleDef
from .bloat import Bloat
from .charts import boot_phases, size_vs_time
from .results import CandidateRecord, read_record
from .summary import SYSCALL_COUNTS, Decision, Summary, render


def required_steps(cycle: CycleDef, name: str) -> list[StepName]:
    steps = [StepName.BUILD, StepName.BOOT, StepName.CENSUS, StepName.WORKLOAD]
    if name != cycle.baseline:
        steps.append(StepName.REGRESSION)
        if cycle.limits.any:
            steps.append(StepName.LIMITS)
    for d in cycle.derivations(name):
        steps += [s for s in d.steps if s not in steps]
    return steps


def _brief(detail: str, limit: int = 400) -> str:
    """The cause (first line) and the end (a log's or console's tail) of a failure."""
    if len(detail) <= limit:
        return detail
    first = detail.splitlines()[0][: limit // 2]
    return f"{first} ... {detail[-(limit - len(first) - 5) :]}"


def _failure(r: CandidateRecord, steps: list[StepName]) -> tuple[Reason, str] | None:
    """The first required step that failed, or that did not run in this run."""
    for step in steps:
        outcome = r.steps.get(step)
        if outcome is None:
            return Reason.NOT_RUN, f"{step.value} did not run"
        if not outcome.ok:
            return STEP_FAILURE[step], _brief(outcome.detail)
    if r.linux_axf_bytes is None:
        return Reason.FAILED_BUILD, "no linux.axf size recorded"
    return None


def _syscall_counts(r: CandidateRecord) -> dict[str, int]:
    out = {k: r.syscall_counts[k] for k in SYSCALL_COUNTS if k in r.syscall_counts}
    if r.reachable_pruned is not None:
        out["reachable_pruned"] = len(r.reachable_pruned)
    return out


def decide(cycle: CycleDef, root: Path, run_id: str) -> list[Decision]:
    decisions = []
    base_census = read_census(root / cycle.baseline, run_id)
    for c in cycle.candidates:
        r = read_record(root / c.name)
        if r is None or r.run_id != run_id:
            continue  # not part of this run
        skipped = r.skipped
        if skipped:  # a derivation said not to build it, in this run, and why
            code, _, skip_why = str(skipped).partition(": ")
            decisions.append(Decision(candidate=c.name, reason=Reason(code), detail=skip_why))
            continue
        failure = _failure(r, required_steps(cycle, c.name))
        risks = [why for d in cycle.derivations(c.name) if (why := d.risk(r))]
        risk = "; ".join(risks)
        if failure is None and risks and not cycle.accept_at_risk:
            failure = (Reason.AT_RISK, risk)
        losses = candidate_losses(cycle, base_census, root, run_id, c.name, r)
        # accept_at_risk accepts the pruned syscalls the userspace can call.
        pruned = (
            [syscall_loss(n).key for n in r.reachable_pruned or {}] if cycle.accept_at_risk else []
        )
        judged = judge(losses or [], cycle.accept_losses + pruned)
        judged.unused = [u for u in judged.unused if u not in pruned]
        if failure is None and losses is None:
            failure = (Reason.NOT_RUN, f"no census of {cycle.baseline} in this run")
        if failure is None and judged.refused:
            failure = (
                Reason.AT_RISK,
                f"gives up {summarize(judged.refused)} (not in the cycle's accept_losses)",
            )
        decisions.append(
            Decision(
                candidate=c.name,
                reason=failure[0] if failure else Reason.QUALIFIED,
                detail=failure[1] if failure else ("accepted at risk: " + risk if risks else ""),
                syscalls=_syscall_counts(r),
                linux_axf_bytes=r.linux_axf_bytes,
                shell_ready_ms=r.shell_ready_ms,
                guest_shell_ready_ms=r.guest_shell_ready_ms,
                sections=r.sections,
                kernel_resident_bytes=r.kernel_resident_bytes,
                mem_total_bytes=r.mem_total_bytes,
                mem_available_bytes=r.mem_available_bytes,
                boot_phases=tl.phases if (tl := read_timeline(root / c.name, run_id)) else {},
                top_initcalls=[(x.name, x.usecs) for x in tl.top(10)] if tl else [],
                locality=r.locality,
                losses=[_loss_json(x, x in judged.accepted) for x in losses or []],
                unused_accepts=judged.unused,
            )
        )
    qualified = [d for d in decisions if d.reason == Reason.QUALIFIED]
    # Smallest first; a tie goes to the faster boot, then to the better code locality.
    qualified.sort(
        key=lambda d: (
            d.linux_axf_bytes or 1 << 62,
            d.guest_shell_ready_ms or 1e12,
            d.locality.get("hot90_pages", 1 << 30),
            d.locality.get("hot90_lines", 1 << 30),
            d.shell_ready_ms or 1e12,
        )
    )
    for i, d in enumerate(qualified):
        d.reason = Reason.SELECTED if i == 0 else Reason.LARGER_THAN_SELECTED
    return decisions


def candidate_losses(
    cycle: CycleDef,
    base: CensusRecord | None,
    root: Path,
    run_id: str,
    name: str,
    record: CandidateRecord,
) -> list[Loss] | None:
    """What the candidate gives up against the baseline's census `base`, from this
    run's censuses (None: one of them was not taken in this run)."""
    if name == cycle.baseline:
        return []
    mine = read_census(root / name, run_id)
    if base is None or mine is None:
        return None
    syscalls = {syscall_name(label) for label in mine.syscalls_lost}
    syscalls |= set(record.reachable_pruned or {})
    return interface_losses(base.census, mine.census) + syscall_losses(syscalls)


def _loss_json(loss: Loss, accepted: bool) -> dict[str, Any]:
    return {**loss.as_json(), "accepted": accepted}


def add_bloat(decisions: list[Decision], root: Path, baseline: str, bloat: BloatTool) -> None:
    base = next((d for d in decisions if d.candidate == baseline), None)
    base_vmlinux = root / baseline / "vmlinux"
    if base is None or not base_vmlinux.exists():
        return
    for d in decisions:
        if d.candidate == baseline or not (root / d.candidate / "vmlinux").exists():
            continue
        if d.linux_axf_bytes is not None and base.linux_axf_bytes is not None:
            d.delta_bytes = d.linux_axf_bytes - base.linux_axf_bytes
        if bloat is not None:
            b = bloat(base_vmlinux, root / d.candidate / "vmlinux")
            d.bloat = b.header
            d.top_symbol_deltas = b.deltas[:10]


def _of_run(kind: str, path: Path, run_id: str) -> dict | None:
    """One of the cycle's JSON files, when this run wrote it."""
    try:
        data = jsonfile.loads(kind, path.read_text())
    except OSError:
        return None
    return data if data is not None and data.get("run_id") == run_id else None


def _coverage(root: Path, run_id: str) -> dict | None:
    return _of_run("coverage", root / "coverage.json", run_id)


def _safety_cost(decisions: list[Decision]) -> list[str]:
    """What keeping every reachable syscall costs, against each at-risk candidate."""
    chosen = next((d for d in decisions if d.reason == Reason.SELECTED), None)
    out = []
    for d in decisions:
        if d.reason != Reason.AT_RISK or chosen is None or not d.syscalls.get("reachable_pruned"):
            continue
        if chosen.linux_axf_bytes is None or d.linux_axf_bytes is None:
            continue
        out.append(
            f"safety costs {chosen.linux_axf_bytes - d.linux_axf_bytes:+,} bytes: "
            f"{chosen.candidate} against {d.candidate}, which prunes "
            f"{d.syscalls.get('reachable_pruned', '?')} syscalls the userspace can call"
        )
    return out


# old vmlinux, new vmlinux -> the kernel's bloat-o-meter report (None: no deltas).
BloatTool = Callable[[Path, Path], Bloat] | None


def build_summary(
    cycle: CycleDef, root: Path, run_id: str, bloat: BloatTool = None
) -> Summary | None:
    """The cycle's summary from this run's records; None unless every candidate ran.

    A run that deselected some candidates (-k) must not produce a choice among
    the few it saw.
    """
    decisions = decide(cycle, root, run_id)
    if len(decisions) < len(cycle.candidates) or any(d.reason == Reason.NOT_RUN for d in decisions):
        return None
    add_bloat(decisions, root, cycle.baseline, bloat)
    return Summary(
        cycle=cycle.name,
        run_id=run_id,
        baseline=cycle.baseline,
        selected=next((d.candidate for d in decisions if d.reason == Reason.SELECTED), None),
        regression_rule=asdict(cycle.regression),
        candidates={d.candidate: d for d in decisions},
        coverage=_coverage(root, run_id),
        safety_cost=_safety_cost(decisions),
        search=_search(root, run_id),
        kernel=_kernel(root / cycle.baseline),
    )


def _kernel(folder: Path) -> dict[str, Any] | None:
    """The baseline build's tree: version and patches (None before they were kept)."""
    record = read_record(folder)
    if record is None or record.get("kernel_version") is None:
        return None
    return {"version": record.get("kernel_version"), "patches": record.get("kernel_patches")}


def _search(root: Path, run_id: str) -> dict | None:
    """The size search's outcomes, when this run wrote them (search.json)."""
    data = _of_run("search", root / "search.json", run_id)
    if data is None:
        return None
    text = root / "search.txt"
    data["table"] = text.read_text() if text.exists() else ""
    return data


def write_summary(
    cycle: CycleDef, root: Path, run_id: str, bloat: BloatTool = None
) -> Summary | None:
    """Select: copy the smallest qualifying linux.axf out, write summary.json and .txt."""
    summary = build_summary(cycle, root, run_id, bloat)
    if summary is None:
        return None
    selected = summary.selected
    sel_dir = root / "selected"
    if sel_dir.exists():
        shutil.rmtree(sel_dir)
    if selected:
        sel_dir.mkdir(parents=True)
        shutil.copyfile(root / selected / "linux.axf", sel_dir / "linux.axf")
        for rebuild in ("minimal.config", "minimal.patches"):  # what rebuilds it, if kept
            if (root / selected / rebuild).exists():
                shutil.copyfile(root / selected / rebuild, sel_dir / rebuild)
        (sel_dir / "CANDIDATE").write_text(selected + "\n")
    charts = size_vs_time(summary, root / f"{cycle.name}-size-vs-time")
    charts += boot_phases(summary, root / f"{cycle.name}-boot-phases")
    if summary.search:
        charts += [root / f for f in summary.search.get("charts", []) if (root / f).exists()]
    summary.charts = [p.name for p in charts]
    (root / "summary.json").write_text(jsonfile.dumps("summary", summary.as_json(), indent=2))
    (root / "summary.txt").write_text(render(summary))
    return summary


def runs(cycle: CycleDef, root: Path) -> list[str]:
    """The run ids of the cycle's records, newest first."""
    newest: dict[str, float] = {}
    for c in cycle.candidates:
        path = root / c.name / "result.json"
        record = read_record(root / c.name)
        if record is not None:
            newest[record.run_id] = max(newest.get(record.run_id, 0.0), path.stat().st_mtime)
    return sorted(newest, key=lambda r: -newest[r])


def damaged_records(cycle: CycleDef, root: Path) -> list[str]:
    """Each result.json of the cycle that is there but is no record, and why."""
    out = []
    for c in cycle.candidates:
        path = root / c.name / "result.json"
        if path.exists() and read_record(root / c.name) is None:
            out.append(f"{path}: not a kqual result record (truncated, edited or another kind)")
    return out
