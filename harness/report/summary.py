"""A cycle's summary as typed records: what selection decided for each candidate,
and how summary.txt and the terminal show it. summary.json is its JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..boot.losses import Loss
from ..core.verdicts import Reason

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
    kernel_resident_bytes: int | None = None
    mem_total_bytes: int | None = None
    mem_available_bytes: int | None = None
    # Where its boot time goes (ms per phase, its initcall_debug boot) and its
    # slowest initcalls (name, us).
    boot_phases: dict[str, float] = field(default_factory=dict)
    top_initcalls: list[tuple[str, int]] = field(default_factory=list)
    delta_bytes: int | None = None
    bloat: str = ""
    top_symbol_deltas: list[tuple[str, int, int, int]] = field(default_factory=list)
    syscalls: dict[str, int] = field(default_factory=dict)  # reachable, traced, kept, ...
    locality: dict[str, int] = field(default_factory=dict)  # text_pages, hot90_pages, hot90_lines
    # What it gives up against the baseline: Loss.as_json() and whether the
    # cycle's accept_losses names it; and the accept_losses entries it did not use.
    losses: list[dict[str, Any]] = field(default_factory=list)
    unused_accepts: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Decision:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["reason"] = Reason(values["reason"])
        values["top_symbol_deltas"] = [tuple(t) for t in values.get("top_symbol_deltas", [])]
        values["top_initcalls"] = [tuple(t) for t in values.get("top_initcalls", [])]
        return cls(**values)


@dataclass
class Summary:
    cycle: str
    run_id: str
    baseline: str
    selected: str | None
    regression_rule: dict[str, Any]
    candidates: dict[str, Decision]
    coverage: dict[str, Any] | None = None
    safety_cost: list[str] = field(default_factory=list)
    search: dict[str, Any] | None = None  # search.json of this run, with its table
    charts: list[str] = field(default_factory=list)
    # The baseline's tree: its version, and which of the kernel patches applied.
    kernel: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["candidates"] = {n: asdict(d) for n, d in self.candidates.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["candidates"] = {n: Decision.from_json(d) for n, d in data["candidates"].items()}
        return cls(**values)


def _fmt(v, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def render(summary: Summary) -> str:
    cands = summary.candidates
    w = max([len(n) for n in cands] + [14]) + 2
    lines = [
        f"cycle {summary.cycle}: selected {summary.selected or 'nothing'} "
        f"(baseline {summary.baseline})",
        "",
        f"{'candidate':<{w}}{'linux.axf':>11}{'vs base':>12}"
        + "".join(f"{k:>10}" for k in SECTION_COLUMNS)
        + f"{'ready ms':>10}{'guest ms':>10}",
    ]
    for name, d in cands.items():
        s = d.sections
        delta = d.delta_bytes
        lines.append(
            f"{name:<{w}}{_fmt(d.linux_axf_bytes, ','):>11}"
            f"{'' if delta is None else format(delta, '+,'):>12}"
            + "".join(f"{_fmt(s.get(k), ','):>10}" for k in SECTION_COLUMNS)
            + f"{_fmt(d.shell_ready_ms, '.0f'):>10}{_fmt(d.guest_shell_ready_ms, '.3f'):>10}"
        )
    lines += _memory_lines(summary)
    lines += _phase_lines(summary)
    lines += _kernel_lines(summary.kernel)
    lines += ["", f"{'candidate':<{w}}{'decision':<26}detail"]
    for name, d in cands.items():
        lines.append(f"{name:<{w}}{d.reason:<26}{d.detail}")
    local = {n: d.locality for n, d in cands.items() if d.locality}
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
    pruning = {n: d.syscalls for n, d in cands.items() if d.syscalls}
    if pruning:
        cols = (*SYSCALL_COUNTS, "reachable_pruned")
        lines += ["", f"{'syscalls':<{w}}" + "".join(f"{c:>18}" for c in cols)]
        for name, counts in pruning.items():
            lines.append(f"{name:<{w}}" + "".join(f"{_fmt(counts.get(c)):>18}" for c in cols))
    lines += [""] + summary.safety_cost if summary.safety_cost else []
    lines += _loss_lines(summary)
    cov = (summary.coverage or {}).get("applets")
    if cov:
        missing = f" (not run: {', '.join(cov['missing'])})" if cov["missing"] else ""
        lines += [
            "",
            f"applets exercised by the workload: {cov['exercised']} of "
            f"{cov['installed']} installed{missing}",
        ]
    search = summary.search
    if search:
        accepted = ", ".join(search["accepted"]) or "nothing"
        lines += [
            "",
            f"size search: {len(search['trials'])} trials, accepted in the final image: {accepted}",
            "bytes per option (saved against the search's base; sections of vmlinux):",
            search.get("table", "").rstrip(),
            "minimal.config: the selected image's options over the target's config",
        ]
    if summary.charts:
        lines += ["", "charts: " + ", ".join(summary.charts)]
    for name, d in cands.items():
        if d.bloat:
            lines += ["", f"{name} vs {summary.baseline}: {d.bloat}"]
            lines += [
                f"  {n:<40}{old:>8}{new:>8}{delta:>+9}"
                for n, old, new, delta in d.top_symbol_deltas
            ]
    return "\n".join(lines) + "\n"


MEMORY_AXES = ("linux_axf_bytes", "kernel_resident_bytes", "guest_shell_ready_ms")


def pareto(decisions: list[Decision], axes: tuple[str, ...] = MEMORY_AXES) -> list[str]:
    """The candidates no other beats on every axis (smaller is better on each),
    among those that boot and have every figure."""
    pts = {
        d.candidate: tuple(getattr(d, a) for a in axes)
        for d in decisions
        if all(getattr(d, a) is not None for a in axes)
    }
    return [
        n
        for n, p in pts.items()
        if not any(q != p and all(b <= a for a, b in zip(p, q, strict=True)) for q in pts.values())
    ]


def _memory_lines(summary: Summary) -> list[str]:
    cands = summary.candidates
    if not any(d.kernel_resident_bytes is not None for d in cands.values()):
        return []
    w = max([len(n) for n in cands] + [14]) + 2
    front = set(pareto(list(cands.values())))
    lines = [
        "",
        f"{'memory':<{w}}{'resident':>12}{'MemTotal':>12}{'MemAvailable':>14}  pareto",
    ]
    for name, d in cands.items():
        lines.append(
            f"{name:<{w}}{_fmt(d.kernel_resident_bytes, ','):>12}"
            f"{_fmt(d.mem_total_bytes, ','):>12}{_fmt(d.mem_available_bytes, ','):>14}"
            f"  {'*' if name in front else ''}"
        )
    lines.append(
        "(resident: text + rodata + data + bss + unwind, what stays after init is freed; "
        "MemTotal/MemAvailable: /proc/meminfo at shell-ready; pareto: no other candidate "
        "is smaller in linux.axf, resident bytes and guest time at once)"
    )
    return lines


def _phase_lines(summary: Summary) -> list[str]:
    cands = {n: d for n, d in summary.candidates.items() if d.boot_phases}
    if not cands:
        return []
    w = max([len(n) for n in cands] + [14]) + 2
    phases = list(next(iter(cands.values())).boot_phases)
    lines = ["", f"{'boot phases ms':<{w}}" + "".join(f"{p:>18}" for p in phases)]
    for name, d in cands.items():
        lines.append(f"{name:<{w}}" + "".join(f"{d.boot_phases.get(p, 0):>18.3f}" for p in phases))
    lines.append(
        "(one initcall_debug boot under -icount per candidate: its prints make it slower "
        "than the measured boot; the initcalls' own times leave them out)"
    )
    for name, d in cands.items():
        top = ", ".join(f"{n} {us:,}" for n, us in d.top_initcalls[:5])
        lines.append(f"  slowest initcalls of {name} (us): {top}")
    return lines


def _loss_lines(summary: Summary) -> list[str]:
    """What the selected image gives up against the baseline, each loss on a line."""
    chosen = summary.candidates.get(summary.selected or "")
    lines = []
    if chosen is not None and chosen.candidate != summary.baseline:
        head = f"what {chosen.candidate} gives up against {summary.baseline}:"
        if not chosen.losses:
            lines += [
                "",
                head + " nothing a shell sees (/proc, /sys, filesystems, "
                "device nodes) and no syscall the userspace can make",
            ]
        else:
            lines += ["", head]
            for loss in chosen.losses:
                text = str(Loss.from_json(loss))
                verdict = "accepted" if loss["accepted"] else "REFUSED"
                lines.append(f"  {text:<64} {verdict}")
    refused = {
        n: [x for x in d.losses if not x["accepted"]]
        for n, d in summary.candidates.items()
        if any(not x["accepted"] for x in d.losses)
    }
    if refused:
        lines += [
            "",
            "losses that made a candidate at_risk (name them in accept_losses to accept):",
        ]
        for name, losses in refused.items():
            shown = ", ".join(str(Loss.from_json(x)) for x in losses[:8])
            more = f" and {len(losses) - 8} more" if len(losses) > 8 else ""
            lines.append(f"  {name}: {shown}{more}")
    unused = set.intersection(
        *(
            set(d.unused_accepts)
            for d in summary.candidates.values()
            if d.candidate != summary.baseline
        )
        or [set()]
    )
    if unused:
        lines += ["", "accept_losses entries no candidate needed: " + ", ".join(sorted(unused))]
    return lines


def _kernel_lines(kernel: dict[str, Any] | None) -> list[str]:
    """Which of our patches the tree took, and what each one left out costs."""
    if not kernel:
        return []
    patches = kernel.get("patches") or {}
    applied = ", ".join(patches.get("applied") or []) or "none"
    lines = ["", f"kernel {kernel.get('version', '?')}: patches applied: {applied}"]
    for lost in patches.get("lost") or []:
        lines.append(f"  not applied: {lost['patch']} ({lost['provides']}): {lost['lost']}")
    return lines
