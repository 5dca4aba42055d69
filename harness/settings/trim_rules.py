"""The trim rules (configs/rules/trim.yaml): which option a never-run subsystem
turns off, read and checked before any build."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ConfigError
from .schema import LocatedList, bind, load_yaml


@dataclass
class TrimRule:
    option: str
    symbols: str = field(metadata={"nonempty": True})
    max_functions: int = field(metadata={"min": 0})
    min_bytes: int = field(metadata={"min": 0})
    why: str = ""
    line: int = 0


@dataclass
class _RulesFile:
    rules: list[TrimRule]


def load_rules(path: Path, symbols: Collection[str] | None = None) -> list[TrimRule]:
    """The rules; with `symbols` (the kernel's Kconfig symbols), an option this
    kernel lacks is an error, not a rule that silently turns nothing off."""
    data = load_yaml(path)
    rules = bind(_RulesFile, data, path).rules
    lines = data["rules"].item_lines if isinstance(data["rules"], LocatedList) else []
    first: dict[str, int] = {}
    for rule, line in zip(rules, lines, strict=False):
        rule.line = line
        if rule.option in first:
            raise ConfigError(
                path, line, f"option {rule.option} has a rule already (line {first[rule.option]})"
            )
        first[rule.option] = line
        if symbols is not None and rule.option not in symbols:
            raise ConfigError(
                path, line, f"{rule.option} is no Kconfig option of this kernel (a typo?)"
            )
        if rule.option.startswith("CONFIG_") or not re.fullmatch(r"[A-Z0-9_]+", rule.option):
            raise ConfigError(
                path, line, f"option {rule.option!r}: write it without CONFIG_, in capitals"
            )
        try:
            re.compile(rule.symbols)
        except re.error as e:
            raise ConfigError(path, line, f"rule {rule.option}: bad regex: {e}") from None
    return rules
