"""The trim rules (configs/rules/trim.yaml): which option a never-run subsystem
turns off, read and checked before any build."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError
from .schema import LocatedList, bind, load_yaml


@dataclass
class TrimRule:
    option: str
    symbols: str
    max_functions: int
    min_bytes: int
    why: str = ""
    line: int = 0


@dataclass
class _RulesFile:
    rules: list[TrimRule]


def load_rules(path: Path) -> list[TrimRule]:
    data = load_yaml(path)
    rules = bind(_RulesFile, data, path).rules
    lines = data["rules"].item_lines if isinstance(data["rules"], LocatedList) else []
    for rule, line in zip(rules, lines, strict=False):
        rule.line = line
        if rule.option.startswith("CONFIG_") or not re.fullmatch(r"[A-Z0-9_]+", rule.option):
            raise ConfigError(
                path, line, f"option {rule.option!r}: write it without CONFIG_, in capitals"
            )
        try:
            re.compile(rule.symbols)
        except re.error as e:
            raise ConfigError(path, line, f"rule {rule.option}: bad regex: {e}") from None
    return rules
