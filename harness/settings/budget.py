"""Size budgets: a ceiling per subsystem folder or section, with a noise band.

The shell-script project this design follows keeps per-subsystem .text
ceilings with a band for noise; kqual's builds are reproducible, so a band of
0 works. A bucket is a section kind (`text`, `rodata`, `data`, `bss`,
`init`, `unwind`), `linux.axf`, `resident`, or a source folder of the tree
(`kernel`, `kernel/sched`) whose objects' symbols are rolled up.

    noise: 0                # the band of every bucket that names none
    buckets:
      kernel/sched: 33000
      text: {max: 520000, noise: 256}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from .schema import load_yaml

SECTIONS = ("text", "rodata", "data", "bss", "init", "unwind")
WHOLE = ("linux.axf", "resident")
_FOLDER_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


@dataclass(frozen=True)
class Bucket:
    name: str
    ceiling: int
    noise: int
    line: int | None = None

    @property
    def kind(self) -> str:
        return "section" if self.name in SECTIONS else "image" if self.name in WHOLE else "folder"


@dataclass(frozen=True)
class Budget:
    path: Path
    buckets: tuple[Bucket, ...]


def _folder_ok(name: str) -> bool:
    parts = name.split("/")
    return all(_FOLDER_PART.fullmatch(p) and p not in (".", "..") for p in parts)


def _count(path: Path, line: int | None, what: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(
            path, line, f"{what} must be a byte count (an integer >= 0), not {value!r}"
        )
    return value


def load_budget(path: Path) -> Budget:
    """The budget file, checked: every bucket a known kind, every figure a byte count."""
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(path, getattr(data, "line", None), "expected a mapping with 'buckets:'")
    lines = getattr(data, "key_lines", {})
    unknown = sorted(set(data) - {"noise", "buckets"})
    if unknown:
        raise ConfigError(
            path, lines.get(unknown[0]), f"unknown key '{unknown[0]}' (expected noise, buckets)"
        )
    noise = _count(path, lines.get("noise"), "'noise'", data.get("noise", 0))
    raw = data.get("buckets")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            path,
            lines.get("buckets", getattr(data, "line", None)),
            "'buckets' must map bucket names to ceilings",
        )
    blines = getattr(raw, "key_lines", {})
    buckets = []
    for name, spec in raw.items():
        line = blines.get(name)
        if not isinstance(name, str) or not (name in SECTIONS or name in WHOLE or _folder_ok(name)):
            raise ConfigError(
                path,
                line,
                f"bucket {name!r}: a section ({', '.join(SECTIONS)}), "
                f"{' or '.join(WHOLE)}, or a source folder such as kernel/sched",
            )
        if isinstance(spec, dict):
            extra = sorted(set(spec) - {"max", "noise"})
            if extra or "max" not in spec:
                raise ConfigError(
                    path, line, f"bucket {name!r}: give {{max: BYTES}} and optionally noise: BYTES"
                )
            ceiling = _count(path, line, f"bucket {name!r} max", spec["max"])
            band = _count(path, line, f"bucket {name!r} noise", spec.get("noise", noise))
        else:
            ceiling, band = _count(path, line, f"bucket {name!r}", spec), noise
        buckets.append(Bucket(name, ceiling, band, line))
    return Budget(path, tuple(buckets))
