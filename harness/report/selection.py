"""Pick the smallest qualifying linux.axf of a cycle and write its summary.

Reads the result.json each candidate's tests wrote in this run (run_id), so
it works the same after a serial run and after pytest-xdist workers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core import jsonfile
from ..core.verdicts import STEP_FAILURE, Reason, StepName
from ..settings.cycles import CycleDef
from .bloat import Bloat
from .charts import size_vs_time
from .results import CandidateRecord, read_record

SYSCALL_COUNTS = ("reachable", "traced", "kept", "pruned")
SECTION_COLUMNS = ("text", "rodata", "data", "bss", "init", "unwind")
LOCALITY_COLUMNS = ("text_pages", "hot90_pages", "hot90_lines")


@dataclass
class Decision:
    candidate: str
    reason: Reason
    detail: str = ""
    linux_axf_bytes: int | None = None
    shell_ready_ms: float | None = None
    guest_shell_ready_ms: float | None = None
    sections: dict[str, int] = field(default_factory=dict)
    delta_bytes: int | None = None
    bloat: str = ""
    top_symbol_deltas: list[tuple[str, int, int, int]] = field(default_factory=list)
    syscalls: dict[str, int] = field(default_factory=dict)  # reachable, traced, kept, ...
    locality: dict[str, int] = field(default_factory=dict)  # text_pages, hot90_pages, hot90_lines


def required_steps(cycle: CycleDef, name: str) -> list[StepName]:
    steps = [StepName.BUILD, StepName.BOOT, StepName.WORKLOAD]
    if name != cycle.baseline:
        steps.append(StepName.REGRESSION)
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
    if r.get("linux_axf_bytes") is None:
        return Reason.FAILED_BUILD, "no linux.axf size recorded"
    return None


def _syscall_counts(r: CandidateRecord) -> dict[str, int]:
    counts = {k: r.get(f"syscalls_{k}") for k in SYSCALL_COUNTS}
    out = {k: v for k, v in counts.items() if v is not None}
    if r.get("reachable_pruned") is not None:
        out["reachable_pruned"] = len(r.get("reachable_pruned"))
    return out


def decide(cycle: CycleDef, root: Path, run_id: str) -> list[Decision]:
    decisions = []
    for c in cycle.candidates:
        r = read_record(root / c.name)
        if r is None or r.run_id != run_id:
            continue  # not part of this run
        skipped = r.get("skipped")
        if skipped:  # a derivation said not to build it, in this run, and why
            code, _, skip_why = str(skipped).partition(": ")
            decisions.append(Decision(candidate=c.name, reason=Reason(code), detail=skip_why))
            continue
        failure = _failure(r, required_steps(cycle, c.name))
        risks = [why for d in cycle.derivations(c.name) if (why := d.risk(r))]
        risk = "; ".join(risks)
        if failure is None and risks and not cycle.accept_at_risk:
            failure = (Reason.AT_RISK, risk)
        decisions.append(
            Decision(
                candidate=c.name,
                reason=failure[0] if failure else Reason.QUALIFIED,
                detail=failure[1] if failure else ("accepted at risk: " + risk if risks else ""),
                syscalls=_syscall_counts(r),
                linux_axf_bytes=r.get("linux_axf_bytes"),
                shell_ready_ms=r.get("shell_ready_ms"),
                guest_shell_ready_ms=r.get("guest_shell_ready_ms"),
                sections=r.get("sections", {}),
                locality=r.get("locality") or {},
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
        if d.reason != Reason.AT_RISK or chosen is None:
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


def build_summary(cycle: CycleDef, root: Path, run_id: str, bloat: BloatTool = None) -> dict | None:
    """The cycle's summary from this run's records; None unless every candidate ran.

    A run that deselected some candidates (-k) must not produce a choice among
    the few it saw.
    """
    decisions = decide(cycle, root, run_id)
    if len(decisions) < len(cycle.candidates) or any(d.reason == Reason.NOT_RUN for d in decisions):
        return None
    add_bloat(decisions, root, cycle.baseline, bloat)
    return {
        "cycle": cycle.name,
        "run_id": run_id,
        "coverage": _coverage(root, run_id),
        "safety_cost": _safety_cost(decisions),
        "baseline": cycle.baseline,
        "selected": next((d.candidate for d in decisions if d.reason == Reason.SELECTED), None),
        "regression_rule": asdict(cycle.regression),
        "candidates": {d.candidate: asdict(d) for d in decisions},
        "search": _search(root, run_id),
    }


def _search(root: Path, run_id: str) -> dict | None:
    """The size search's outcomes, when this run wrote them (search.json)."""
    data = _of_run("search", root / "search.json", run_id)
    if data is None:
        return None
    text = root / "search.txt"
    data["table"] = text.read_text() if text.exists() else ""
    return data


def write_summary(cycle: CycleDef, root: Path, run_id: str, bloat: BloatTool = None) -> dict | None:
    """Select: copy the smallest qualifying linux.axf out, write summary.json and .txt."""
    summary = build_summary(cycle, root, run_id, bloat)
    if summary is None:
        return None
    selected = summary["selected"]
    sel_dir = root / "selected"
    if sel_dir.exists():
        shutil.rmtree(sel_dir)
    if selected:
        sel_dir.mkdir(parents=True)
        shutil.copyfile(root / selected / "linux.axf", sel_dir / "linux.axf")
        (sel_dir / "CANDIDATE").write_text(selected + "\n")
    charts = size_vs_time(summary, root / f"{cycle.name}-size-vs-time")
    if summary.get("search"):
        charts += [root / f for f in summary["search"].get("charts", []) if (root / f).exists()]
    summary["charts"] = [p.name for p in charts]
    (root / "summary.json").write_text(jsonfile.dumps("summary", summary, indent=2))
    (root / "summary.txt").write_text(render(summary))
    return summary


def latest_run(cycle: CycleDef, root: Path) -> str | None:
    """The run id of the newest record among the cycle's candidates."""
    newest: tuple[float, str] | None = None
    for c in cycle.candidates:
        path = root / c.name / "result.json"
        record = read_record(root / c.name)
        if record is not None and path.exists():
            stamp = (path.stat().st_mtime, record.run_id)
            newest = max(newest, stamp) if newest else stamp
    return newest[1] if newest else None


def _fmt(v, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def render(summary: dict) -> str:
    cands = summary["candidates"]
    w = max([len(n) for n in cands] + [14]) + 2
    lines = [
        f"cycle {summary['cycle']}: selected {summary['selected'] or 'nothing'} "
        f"(baseline {summary['baseline']})",
        "",
        f"{'candidate':<{w}}{'linux.axf':>11}{'vs base':>12}"
        + "".join(f"{k:>10}" for k in SECTION_COLUMNS)
        + f"{'ready ms':>10}{'guest ms':>10}",
    ]
    for name, d in cands.items():
        s = d["sections"]
        delta = d["delta_bytes"]
        lines.append(
            f"{name:<{w}}{_fmt(d['linux_axf_bytes'], ','):>11}"
            f"{'' if delta is None else format(delta, '+,'):>12}"
            + "".join(f"{_fmt(s.get(k), ','):>10}" for k in SECTION_COLUMNS)
            + f"{_fmt(d['shell_ready_ms'], '.0f'):>10}{_fmt(d['guest_shell_ready_ms'], '.3f'):>10}"
        )
    lines += ["", f"{'candidate':<{w}}{'decision':<26}detail"]
    for name, d in cands.items():
        lines.append(f"{name:<{w}}{d['reason']:<26}{d['detail']}")
    local = {n: d["locality"] for n, d in cands.items() if d.get("locality")}
    if local:
        lines += ["", f"{'locality':<{w}}" + "".join(f"{c:>14}" for c in LOCALITY_COLUMNS)]
        for name, loc in local.items():
            lines.append(
                f"{name:<{w}}" + "".join(f"{_fmt(loc.get(c)):>14}" for c in LOCALITY_COLUMNS)
            )
        lines.append(
            "(4 KiB pages and 32-byte lines of kernel .text executed in the workload; under "
            "QEMU ordering barely changes the instruction count, so guest time stays the "
            "regression gate: locality is what ordering is for on parts with a cache or XIP flash)"
        )
    pruning = {n: d["syscalls"] for n, d in cands.items() if d.get("syscalls")}
    if pruning:
        cols = (*SYSCALL_COUNTS, "reachable_pruned")
        lines += ["", f"{'syscalls':<{w}}" + "".join(f"{c:>18}" for c in cols)]
        for name, counts in pruning.items():
            lines.append(f"{name:<{w}}" + "".join(f"{_fmt(counts.get(c)):>18}" for c in cols))
    lines += [""] + summary.get("safety_cost", []) if summary.get("safety_cost") else []
    cov = (summary.get("coverage") or {}).get("applets")
    if cov:
        missing = f" (not run: {', '.join(cov['missing'])})" if cov["missing"] else ""
        lines += [
            "",
            f"applets exercised by the workload: {cov['exercised']} of "
            f"{cov['installed']} installed{missing}",
        ]
    search = summary.get("search")
    if search:
        accepted = ", ".join(search["accepted"]) or "nothing"
        lines += [
            "",
            f"size search: {len(search['trials'])} trials, accepted in the final image: {accepted}",
            "bytes per option (saved against the search's base; sections of vmlinux):",
            search.get("table", "").rstrip(),
            "minimal.config: the selected image's options over the target's config",
        ]
    if summary.get("charts"):
        lines += ["", "charts: " + ", ".join(summary["charts"])]
    for name, d in cands.items():
        if d["bloat"]:
            lines += ["", f"{name} vs {summary['baseline']}: {d['bloat']}"]
            lines += [
                f"  {n:<40}{old:>8}{new:>8}{delta:>+9}"
                for n, old, new, delta in d["top_symbol_deltas"]
            ]
    return "\n".join(lines) + "\n"
