"""Derivation `order`: hot functions first in .text, from the profile's order
file (`derive: [{order: {list: hot}}]`, or `full`).

Dead-code elimination compiles with -ffunction-sections, so each function is
its own `.text.<name>` input section; patches/linux/0002 lets the vmlinux
linker script include a generated list of them ahead of the rest of .text.
A new list only relinks. After the link the placement is checked from
System.map: an order that did not apply fails the build.

The order is only worth having when the profile is concentrated (the top 32
functions hold at least 30% of executed blocks and the top 64 at least 50%);
otherwise its candidates are skipped as `not_concentrated`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.verdicts import Reason
from ..settings.derivation import Context, Contribution, Derivation, Skip, register
from ..trace.analysis import concentrated
from .placement import OrderNotApplied, check_placement

LISTS = ("hot", "full")


@register
class Order(Derivation):
    name = "order"
    beyond_config = True  # a linker-script order, not .config
    once = True
    options = {"list": str, "selector": str, "require_concentration": bool}

    def __init__(self, **opts: Any) -> None:
        super().__init__(**opts)
        if self.order_list not in LISTS:
            raise ValueError(f"list must be one of {', '.join(LISTS)}, not {self.order_list!r}")

    @property
    def order_list(self) -> str:
        return self.opts.get("list", "hot")

    @property
    def selector(self) -> str:
        return self.opts.get("selector", "full")

    def selectors(self, cycle: Any) -> list[str]:
        return [self.selector]

    def _profile(self, ctx: Context) -> Any:
        return ctx.profile(ctx.cycle.baseline, self.selector)

    def names(self, ctx: Context) -> list[str]:
        text = self._profile(ctx).file(f"{self.order_list}.order").read_text()
        return [n for n in text.split() if n]

    def skip(self, ctx: Context) -> Skip | None:
        if not ctx.source().has("text_order"):
            return Skip(
                Reason.PATCH_NOT_APPLIED,
                "the kernel tree lacks the text-order include (patch 0002 did not apply)",
            )
        if not self.opts.get("require_concentration", True):
            return None
        c = self._profile(ctx).profile().concentration
        if concentrated(c):
            return None
        return Skip(
            Reason.NOT_CONCENTRATED,
            f"top32 {c['top32']:.0%} (needs 30%), top64 {c['top64']:.0%} (needs 50%) "
            "of executed blocks",
        )

    def contribute(self, ctx: Context) -> Contribution:
        lines = [f"/* kqual: {self.order_list}.order of {self._profile(ctx).key} */"]
        lines += [f"*(.text.{n})" for n in self.names(ctx)]
        return Contribution(text_order="\n".join(lines) + "\n")

    def leave(self, ctx: Context, out: Path) -> dict[str, Any]:
        names = self.names(ctx)
        (out / f"{self.order_list}.order").write_text("".join(f"{n}\n" for n in names))
        placement = check_placement(out / "System.map", names)
        (out / "placement.txt").write_text(placement.report())
        if not placement.placed or placement.out_of_order:
            raise OrderNotApplied(
                f"{ctx.cycle.name}: the {self.order_list} order did not apply: {placement.report()}"
            )
        return {
            "order": {
                "list": self.order_list,
                "listed": placement.listed,
                "placed": len(placement.placed),
                "block_bytes": placement.block_bytes,
                "matched_nothing": placement.missing,
                "matched_several": placement.several,
            }
        }
