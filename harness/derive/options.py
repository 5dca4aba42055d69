"""Derivation `options`: set Kconfig options on top of the parent,
`derive: [{options: {set: {LOG_BUF_SHIFT: 12, KALLSYMS: n}}}]`. The search
makes its trials from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.publish import write_if_changed
from ..settings.change import Change, config_line, option_value, valid_option
from ..settings.derivation import Context, Contribution, Derivation, register


@register
class Options(Derivation):
    name = "options"
    options = {"set": dict}

    def __init__(self, **opts: Any) -> None:
        super().__init__(**opts)
        values = opts.get("set") or {}
        if not values:
            raise ValueError("'set' is empty: name at least one option, or drop the derivation")
        for option in values:
            if not isinstance(option, str) or not valid_option(option):
                raise ValueError(f"{option!r} is no option name (capitals, without CONFIG_)")
        self.values = tuple((k, _text(k, v)) for k, v in values.items())

    def kconfig_symbols(self) -> list[str]:
        return [k for k, _ in self.values]

    def fragment_text(self) -> str:
        return "".join(config_line(k, v) + "\n" for k, v in self.values)

    def contribute(self, ctx: Context) -> Contribution:
        digest = Change(self.values).digest[:16] if self.values else "none"
        path = ctx.generated / f"options-{digest}.config"
        return Contribution(fragments=[write_if_changed(path, self.fragment_text())])

    def leave(self, ctx: Context, out: Path) -> dict[str, Any]:
        (out / "options.config").write_text(self.fragment_text())
        return {"options": dict(self.values)}


def _text(option: str, value: Any) -> str:
    if isinstance(value, bool):  # `KALLSYMS: true` reads as y here
        return "y" if value else "n"
    try:
        return option_value(value)
    except ValueError as e:
        raise ValueError(f"{option}: {e}") from None
