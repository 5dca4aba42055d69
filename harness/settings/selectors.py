"""Trace selectors (configs/rules/trace.yaml): what QEMU logs for each profile."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..core.errors import ConfigError
from .files import TRACE_SELECTORS
from .schema import SAFE_NAME_RULE, bind, load_yaml, safe_name

DEFAULT_SELECTORS = TRACE_SELECTORS
SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")


@dataclass
class Selector:
    debug: str
    dfilter_symbol: str | None = None
    # Under -icount shift=0,sleep=off: idle time costs no blocks, so the counts do
    # not depend on how busy the host was (the same image gives the same trace).
    icount: bool = False
    line: int | None = field(default=None, init=False, compare=False)  # in trace.yaml

    @property
    def definition(self) -> dict[str, object]:
        """What the selector asks of QEMU: a cache key's part (its line is not)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}


@dataclass
class SelectorFile:
    selectors: dict[str, Selector]


def load_selectors(path: Path = DEFAULT_SELECTORS) -> dict[str, Selector]:
    data = load_yaml(path)
    selectors = bind(SelectorFile, data, path).selectors
    if not selectors:
        raise ConfigError(path, None, "'selectors' is empty: name at least one trace selector")
    lines = getattr(data.get("selectors"), "key_lines", {})
    for name, sel in selectors.items():
        sel.line = lines.get(name)
        if not safe_name(name):
            raise ConfigError(path, sel.line, f"selector name {name!r}: use {SAFE_NAME_RULE}")
        if not sel.debug.strip():
            raise ConfigError(path, sel.line, f"selector '{name}': 'debug' is empty")
        if re.search(r"\s", sel.debug):
            raise ConfigError(
                path,
                sel.line,
                f"selector '{name}': 'debug' {sel.debug!r} holds blanks, which QEMU's -d "
                "refuses: write the items with commas only (exec,cpu,in_asm)",
            )
        if sel.dfilter_symbol is not None and not SYMBOL.fullmatch(sel.dfilter_symbol):
            raise ConfigError(
                path,
                sel.line,
                f"selector '{name}': 'dfilter_symbol' {sel.dfilter_symbol!r} is not a kernel "
                "symbol name (letters, digits, '_', and '.' suffixes such as .constprop.0)",
            )
    return selectors


def dfilter_names(selectors: dict[str, Selector]) -> set[str]:
    """The C names behind the selectors' dfilter symbols (without GCC's suffixes)."""
    return {s.dfilter_symbol.split(".")[0] for s in selectors.values() if s.dfilter_symbol}


def check_dfilter_symbols(selectors: dict[str, Selector], path: Path, mentioned: set[str]) -> None:
    """A dfilter symbol the kernel's sources never mention is a typo: said before
    the baseline is built, not when its vmlinux lacks it."""
    for name, sel in selectors.items():
        if sel.dfilter_symbol and sel.dfilter_symbol.split(".")[0] not in mentioned:
            raise ConfigError(
                path,
                sel.line,
                f"selector '{name}': 'dfilter_symbol' {sel.dfilter_symbol!r} appears in no "
                ".c, .S or .h file of this kernel tree (a typo?)",
            )


def check_debug_items(selectors: dict[str, Selector], path: Path, known: frozenset[str]) -> None:
    """Every -d item a selector asks for must be one the installed QEMU logs."""
    for name, sel in selectors.items():
        bad = [i for i in sel.debug.split(",") if i.strip() not in known]
        if bad:
            raise ConfigError(
                path,
                sel.line,
                f"selector '{name}': QEMU has no -d item {', '.join(map(repr, bad))} "
                "(see 'qemu-system-arm -d help')",
            )
