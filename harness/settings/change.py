"""A config change tried on top of the search's base: a few option = value pairs."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum

from ..kernel.kconfig import CONFIG_VALUE

_OPTION = re.compile(r"^[A-Z0-9_]+$")


class ChangeSource(StrEnum):
    """Where a trial's change came from."""

    KNOB = "knob"  # configs/rules/knobs.yaml
    TRACE = "trace"  # an option none of whose code ran in the baseline's profile
    COMBINATION = "combination"  # the accepted trials together


@dataclass(frozen=True)
class Change:
    """What one trial sets; expected bytes only order the trials."""

    values: tuple[tuple[str, str], ...]  # (option without CONFIG_, value: y, n, a number, "text")
    why: str = ""
    source: ChangeSource = ChangeSource.KNOB
    expect_bytes: int = 0
    detail: dict = field(default_factory=dict, compare=False, hash=False)
    needs: str = ""  # a feature of our kernel patches the option comes from

    @property
    def label(self) -> str:
        """What a person reads: LOG_BUF_SHIFT=12, KALLSYMS=n."""
        return ", ".join(f"{k}={v}" for k, v in self.values)

    @property
    def slug(self) -> str:
        """A file- and test-id-safe name, unique per change."""
        first = self.values[0][0]
        more = f"+{len(self.values) - 1}" if len(self.values) > 1 else ""
        return f"{first}{more}-{self.digest[:6]}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(sorted(self.values)).encode()).hexdigest()

    def fragment(self) -> str:
        return "".join(config_line(k, v) + "\n" for k, v in self.values)


def config_line(option: str, value: str) -> str:
    return f"# CONFIG_{option} is not set" if value == "n" else f"CONFIG_{option}={value}"


def combined(changes: list[Change]) -> tuple[tuple[str, str], ...]:
    """The option values of several changes together, in order (a later one wins)."""
    merged: dict[str, str] = {}
    for c in changes:
        merged.update(c.values)
    return tuple(merged.items())


def valid_option(name: str) -> bool:
    return bool(_OPTION.match(name)) and not name.startswith("CONFIG_")


def option_value(value: object) -> str:
    """A value from YAML as .config writes it: y, n, m, a number, or a quoted
    string. ValueError says what is wrong (the caller names file and line)."""
    if isinstance(value, bool):
        raise ValueError(f"write y or n, not {value!r} (YAML reads yes/no as booleans)")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and CONFIG_VALUE.fullmatch(value):
        return value  # as .config writes it already (a search's change passes so)
    if isinstance(value, str) and value in ("Y", "N", "M"):
        raise ValueError(f"write {value.lower()}, not {value} (Kconfig takes y, n and m only)")
    if isinstance(value, str) and value.strip():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    raise ValueError(f"value {value!r} is not y, n, m, a number or a string")
