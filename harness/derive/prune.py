"""Derivation `prune_syscalls`: syscall table entries nobody needs point at the
pruned-syscall entry point (patches/linux), so dead-code elimination drops them.

Kept: the keep list, --keep-syscall, what the baseline's workload traced, and
(option keep_reachable, the default) every syscall the userspace can make by
the static scan. Its candidates also pass the ENOSYS tripwire, and one that
prunes a reachable syscall is at risk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import KqualError
from ..core.paths import resolve
from ..core.publish import write_if_changed
from ..core.verdicts import StepName
from ..kernel.syscall_table import NI, PRUNED, syscall_names
from ..scan.syscalls import UNREADABLE, ScanResult
from ..settings.derivation import Context, Contribution, Derivation, register
from ..settings.keep import load_keep
from .syscall_prune import PruneResult, prune_table, report, systbl_override


@register
class PruneSyscalls(Derivation):
    name = "prune_syscalls"
    beyond_config = True  # syscall.tbl, not .config
    once = True
    steps = (StepName.ENOSYS,)
    options = {"keep_reachable": bool}

    @property
    def keep_reachable(self) -> bool:
        return self.opts.get("keep_reachable", True)

    def selectors(self, cycle: Any) -> list[str]:
        return [cycle.selector]

    def params(self) -> list[str]:
        return ["pruned_candidate"] + (
            ["safe_pruned_candidate"] if self.keep_reachable else ["aggressive_candidate"]
        )

    def traced(self, ctx: Context) -> dict[int, int]:
        """Syscall number -> calls, in the baseline's workload profile."""
        return ctx.profile(ctx.cycle.baseline, ctx.cycle.selector).profile().syscalls

    def result(self, ctx: Context) -> PruneResult:
        """The pruned table (computed once per cycle run and options)."""
        key = (self.name, self.keep_reachable)
        if key not in ctx.memo:
            scan = ctx.reachable()
            if not scan.complete and self.keep_reachable:
                raise KqualError(incomplete_scan(scan))
            cycle = ctx.cycle
            ctx.memo[key] = prune_table(
                ctx.syscall_table(),
                self.traced(ctx),
                load_keep(resolve(cycle.syscall_keep)),
                ctx.env.keep_extra,
                reachable={nr: scan.functions_calling(nr) for nr in scan.numbers},
                keep_reachable=self.keep_reachable,
                entry_point=pruned_entry_point(cycle.pruned_notice, ctx.source()),
            )
        return ctx.memo[key]

    def contribute(self, ctx: Context) -> Contribution:
        result = self.result(ctx)
        # A new name for each table: kbuild reruns cmd_systbl only when its text changes.
        table = write_if_changed(ctx.generated / f"syscall-{result.digest}.tbl", result.table_text)
        return Contribution(make_extra=[systbl_override(table)])

    def leave(self, ctx: Context, out: Path) -> dict[str, Any]:
        result = self.result(ctx)
        names = syscall_names(ctx.syscall_table())
        (out / "syscall-prune.txt").write_text(report(result, names))
        (out / "syscall.tbl").write_text(result.table_text)
        return {
            "syscalls_kept": len(result.kept),
            "syscalls_pruned": len(result.pruned),
            "syscalls_reachable": len(ctx.reachable().numbers),
            "syscalls_traced": len(self.traced(ctx)),
            "reachable_pruned": {
                names.get(nr, str(nr)): fns for nr, fns in result.reachable_pruned.items()
            },
        }

    def check(self, ctx: Context, candidate: str, step: StepName) -> tuple[bool, str, dict]:
        """The ENOSYS tripwire: the workload on the pruned kernel, traced."""
        pruned = self.result(ctx).pruned
        called = ctx.profile(candidate, ctx.cycle.selector).profile().syscalls
        if not called:
            return False, "the tripwire trace saw no syscalls at all", {}
        hit = sorted(f"{pruned[nr]} ({nr}) x{n}" for nr, n in called.items() if nr in pruned)
        facts = {"enosys_called": hit, "enosys_syscalls_traced": len(called)}
        return not hit, ", ".join(hit), facts

    def risk(self, record: Any) -> str | None:
        at_risk = record.reachable_pruned
        if at_risk is None:
            return "no static scan of the userspace recorded"
        if at_risk:
            return "prunes syscalls the userspace can call: " + ", ".join(sorted(at_risk))
        return None


def pruned_entry_point(notice: bool, source: Any) -> str:
    """Where pruned entries point: our notice, unless the cycle turned it off or
    patch 0001 did not apply to this tree (then the kernel's own sys_ni_syscall;
    the source stage said so)."""
    return PRUNED if notice and source.has("pruned_notice") else NI


def incomplete_scan(scan: ScanResult) -> str:
    """Why a safe prune cannot run: the sites, and every binary not read at all."""
    ordered = sorted(scan.unresolved, key=lambda u: (u.binary, u.address, u.function))
    unread = [u for u in ordered if u.function == UNREADABLE]
    sites = [u for u in ordered if u.function != UNREADABLE]
    shown = ", ".join(f"{u.binary}:{u.function}@{u.address}" for u in sites[:5])
    parts = [f"{len(sites)} unresolved sites: {shown}"] if sites else []
    parts += [f"{u.binary} {u.why}" for u in unread]
    return (
        f"the userspace syscall scan is incomplete ({'; '.join(parts)}); pruning could "
        "remove a call it needs. Run 'kqual syscalls' on the binaries to see them."
    )
