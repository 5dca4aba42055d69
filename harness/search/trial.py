"""Qualify one set of option changes on top of the search's base, and say why not.

A trial is an ordinary candidate of the cycle (its build starts from a copy of
the base's folder, so only what the change touches is rebuilt) that must:
build, with every requested value taking effect and nothing the target needs
dragged along; boot; pass the workload with no pruned-syscall notice; not
regress boot against the baseline; keep every syscall the userspace can
reach implemented; and be smaller than the base, in its sections or in its
linux.axf.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from ..boot.losses import interface_losses, judge, summarize, syscall_loss, syscall_losses
from ..boot.qemu import BootFailure
from ..core.errors import KqualError
from ..kernel.implemented import lost_syscalls, syscall_name
from ..kernel.kconfig import ConfigNotAppliedError
from ..settings.change import ChangeSource


class Verdict(StrEnum):
    """Why a trial is taken or not, in the order its steps run."""

    ACCEPTED = "accepted"
    NO_EFFECT = "no_effect"  # olddefconfig did not keep a requested value: not built
    DRAGS = "drags"  # it turned off (or changed) something the target's fragments need: not built
    BUILD_ERROR = "build_error"
    BOOT_FAILURE = "boot_failure"
    NOTICE = "notice"  # a pruned syscall was called
    WORKLOAD_STEP = "workload_step"
    REGRESSION = "regression"
    REACHABLE_LOST = (
        "reachable_lost"  # a syscall the userspace can make now points at sys_ni_syscall
    )
    # it gives up a file under /proc or /sys, a filesystem or a device node the
    # base has, that the cycle's accept_losses does not name
    LOSES_INTERFACE = "loses_interface"
    NO_SAVING = "no_saving"
    BUDGET = "budget"  # not run: the search's time budget ran out


@dataclass
class TrialOutcome:
    label: str
    values: list[list[str]]
    verdict: Verdict
    detail: str = ""
    source: ChangeSource = ChangeSource.KNOB
    why: str = ""
    linux_axf_bytes: int | None = None
    saved_bytes: int | None = None  # linux.axf, against the base it was tried on
    saved_sections: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    build_seconds: float | None = None  # its kernel build's, when it was rebuilt here
    build_from: str = ""  # seed, incremental or scratch; "" when it was up to date
    guest_ms: float | None = None  # its guest shell-ready time, when it booted
    round: int = 1  # the search round that tried it; saved_bytes is against that round's base

    @property
    def accepted(self) -> bool:
        return self.verdict == Verdict.ACCEPTED

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrialOutcome:
        values = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        values["verdict"] = Verdict(values["verdict"])
        values["source"] = ChangeSource(values.get("source", ChangeSource.KNOB))
        return cls(**values)


def evaluate(runner: Any, name: str, base: str) -> tuple[Verdict, str]:
    """(verdict, detail) of candidate `name` of the runner's cycle, step by step."""
    try:
        built = runner.built(name)
    except ConfigNotAppliedError as e:
        mine = {str(f) for f in runner.spec(name).fragments[-1:]}
        own = [m for m in e.mismatches if str(m.request.path) in mine]
        dragged = [m for m in e.mismatches if str(m.request.path) not in mine]
        if dragged:
            return Verdict.DRAGS, "; ".join(str(m) for m in dragged)
        return Verdict.NO_EFFECT, "; ".join(str(m) for m in own)
    except KqualError as e:
        return Verdict.BUILD_ERROR, _first_lines(str(e))
    base_built = runner.built(base)
    # The sections see a saving that the wrapper's padding hides; linux.axf sees
    # one that leaves the sections alone (a zImage).
    if (
        built.sizes.in_image >= base_built.sizes.in_image
        and built.axf_bytes >= base_built.axf_bytes
    ):
        return Verdict.NO_SAVING, (
            f"image sections {built.sizes.in_image:,} bytes, base {base_built.sizes.in_image:,}; "
            f"linux.axf {built.axf_bytes:,} bytes, base {base_built.axf_bytes:,}"
        )
    try:
        runner.boot(name)
    except BootFailure as e:
        runner.close_sessions(name)
        verdict = Verdict.NOTICE if e.syscall is not None else Verdict.BOOT_FAILURE
        return verdict, runner.explain(e)
    failures = runner.run_workload(name)
    notices = [f for f in failures if "pruned syscall" in f]
    if notices:
        return Verdict.NOTICE, notices[0]
    if failures:
        return Verdict.WORKLOAD_STEP, failures[0]
    ok, detail = runner.regression(name)
    if not ok:
        return Verdict.REGRESSION, detail
    accept = runner.cycle.accept_losses
    lost = lost_syscalls(runner, built.results / "System.map", base_built.results / "System.map")
    refused = set(judge(syscall_losses({syscall_name(label) for label in lost}), accept).refused)
    shown = [label for label in lost if syscall_loss(syscall_name(label)) in refused]
    if shown:
        return Verdict.REACHABLE_LOST, "now sys_ni_syscall: " + ", ".join(shown[:8])
    losses = interface_losses(runner.census(base).census, runner.census(name).census)
    judged = judge(losses, accept)
    if judged.refused:
        return Verdict.LOSES_INTERFACE, f"gives up {summarize(judged.refused)}"
    return Verdict.ACCEPTED, ""


def timed_evaluate(
    runner: Any,
    name: str,
    base: str,
    change_label: str,
    values: list[list[str]],
    source: ChangeSource,
    why: str,
) -> TrialOutcome:
    start = time.monotonic()
    verdict, detail = evaluate(runner, name, base)
    outcome = TrialOutcome(change_label, values, verdict, detail, source, why)
    try:
        built, base_built = runner.built(name), runner.built(base)
    except KqualError:
        built = None
    if built is not None:
        outcome.linux_axf_bytes = built.axf_bytes
        outcome.saved_bytes = base_built.axf_bytes - built.axf_bytes
        mine, theirs = built.sizes.as_dict(), base_built.sizes.as_dict()
        outcome.saved_sections = {k: theirs[k] - mine.get(k, 0) for k in theirs}
        outcome.build_seconds = built.facts.get("build_seconds")
        outcome.build_from = str(built.facts.get("build_from", ""))
        outcome.guest_ms = runner.measured(name)
    outcome.seconds = round(time.monotonic() - start, 1)
    return outcome


def _first_lines(text: str, n: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[:n])[:600]
