"""Derivation `trim`: config options whose code never ran in the baseline's profile,
turned off by the cycle's trim rules (configs/rules/trim.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.paths import resolve
from ..core.publish import write_by_content
from ..settings.derivation import Context, Contribution, Derivation, register
from ..settings.trim_rules import load_rules
from ..trace.symbols import SymbolTable
from .config_trim import decide, render_fragment


@register
class Trim(Derivation):
    name = "trim"

    def selectors(self, cycle: Any) -> list[str]:
        return [cycle.trim_selector]

    def fragment(self, ctx: Context) -> Path:
        """The generated fragment, worked out once per cycle run."""
        if self.name not in ctx.memo:
            ctx.memo[self.name] = self._generate(ctx)
        return ctx.memo[self.name]

    def _generate(self, ctx: Context) -> Path:
        cycle = ctx.cycle
        base = ctx.built(cycle.baseline)
        entry = ctx.profile(cycle.baseline, cycle.trim_selector)
        hits = entry.profile().symbols
        decisions = decide(
            load_rules(resolve(cycle.trim_rules)),
            hits,
            SymbolTable.from_vmlinux(base.results / "vmlinux"),
        )
        text = render_fragment(
            decisions, f"the baseline's '{cycle.trim_selector}' profile {entry.key}"
        )
        return write_by_content(ctx.generated, "trim.config", text)

    def contribute(self, ctx: Context) -> Contribution:
        return Contribution(fragments=[self.fragment(ctx)])

    def leave(self, ctx: Context, out: Path) -> dict[str, Any]:
        (out / "trim-generated.config").write_text(self.fragment(ctx).read_text())
        return {}
