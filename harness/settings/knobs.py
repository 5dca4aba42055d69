"""configs/rules/knobs.yaml: changes a trace cannot judge (sizes, features), each a trial."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from .change import Change, ChangeSource, option_value, valid_option
from .patches import FEATURES
from .schema import LocatedList, bind, load_yaml


@dataclass
class Knob:
    set: dict[str, Any]
    why: str = field(metadata={"nonempty": True})
    expect_bytes: int = field(default=0, metadata={"min": 0})
    # A feature of our kernel patches (patches/linux/series, provides=) whose
    # option this knob sets: a tree that did not take that patch skips it.
    needs: str = ""


@dataclass
class _KnobsFile:
    knobs: list[Knob]


def _value(path: Path, line: int | None, option: str, value: Any) -> str:
    try:
        return option_value(value)
    except ValueError as e:
        raise ConfigError(path, line, f"{option}: {e}") from None


def load_knobs(path: Path, symbols: Collection[str] | None = None) -> list[Change]:
    """The knobs as changes; with `symbols` (the kernel's Kconfig symbols), a
    misspelt option is an error here rather than a trial that does nothing."""
    data = load_yaml(path)
    if not isinstance(data, dict) or "knobs" not in data:
        raise ConfigError(path, getattr(data, "line", None), "expected a mapping with 'knobs:'")
    knobs = bind(_KnobsFile, data, path).knobs
    raw = data["knobs"]
    lines = raw.item_lines if isinstance(raw, LocatedList) else [None] * len(knobs)
    changes: list[Change] = []
    seen: dict[str, int | None] = {}
    for knob, line in zip(knobs, lines, strict=True):
        if not knob.set:
            raise ConfigError(path, line, "'set' is empty: name at least one option")
        if knob.needs and knob.needs not in FEATURES:
            raise ConfigError(
                path,
                line,
                f"needs: {knob.needs!r} is no feature of kqual's kernel patches "
                f"(known: {', '.join(sorted(FEATURES))})",
            )
        values = []
        for option, value in knob.set.items():
            if not isinstance(option, str) or not valid_option(option):
                raise ConfigError(
                    path, line, f"option {option!r}: write it without CONFIG_, in capitals"
                )
            if symbols is not None and option not in symbols and not knob.needs:
                raise ConfigError(
                    path,
                    line,
                    f"{option} is no Kconfig option of this kernel "
                    "(check the spelling: 'make menuconfig' finds options with /)",
                )
            values.append((option, _value(path, line, option, value)))
        change = Change(
            tuple(values), knob.why, ChangeSource.KNOB, knob.expect_bytes, needs=knob.needs
        )
        if change.digest in seen:
            raise ConfigError(
                path, line, f"{change.label} is already a knob on line {seen[change.digest]}"
            )
        seen[change.digest] = line
        changes.append(change)
    return changes
