"""Kconfig fragments: parse them, and check that what they asked for took effect.

olddefconfig silently drops an option whose dependencies are unmet or whose
symbol does not exist, so after merging kqual compares the resulting .config
with every request and names each one that did not stick, by file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError, KqualError
from ..core.textfile import read_text

_SET = re.compile(r"^CONFIG_(\w+)=(.*)$")
_NOT_SET = re.compile(r"^# CONFIG_(\w+) is not set\s*$")
_KCONFIG_SYMBOL = re.compile(r"^\s*(?:menu)?config\s+(\w+)", re.M)


@dataclass(frozen=True)
class Request:
    """One line of a fragment: CONFIG_<name>=<value>, value 'n' when unset."""

    name: str
    value: str
    path: Path
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def __str__(self) -> str:
        if self.value == "n":
            return f"# CONFIG_{self.name} is not set"
        return f"CONFIG_{self.name}={self.value}"


CONFIG_VALUE = re.compile(  # a .config value: y, n, m, a number or a quoted string
    r'y|n|m|-?\d+|0x[0-9a-fA-F]+|"(?:[^"\\]|\\.)*"'
)
_LOOKS_NOT_SET = re.compile(r"^#\s*CONFIG_\w+\s+is\s+(?:not\s+)?set")


def parse_fragment(path: Path) -> list[Request]:
    """Parse a fragment; anything that is neither an option nor a comment is an
    error, and so is a line Kconfig would take otherwise than it reads: a value
    it does not know, an option set twice, an unset line not written its way."""
    requests: list[Request] = []
    first: dict[str, int] = {}
    for n, raw in enumerate(read_text(Path(path)).splitlines(), 1):
        line = raw.strip()
        if m := _NOT_SET.match(line):
            req = Request(m[1], "n", Path(path), n)
        elif m := _SET.match(line):
            req = Request(m[1], m[2], Path(path), n)
            if not m[2]:
                raise ConfigError(
                    path,
                    n,
                    f"CONFIG_{m[1]} has no value: to unset it, write '# CONFIG_{m[1]} is not set'",
                )
            if not CONFIG_VALUE.fullmatch(m[2]):
                raise ConfigError(
                    path,
                    n,
                    f'CONFIG_{m[1]}={m[2]}: a value is y, n, m, a number or a "quoted '
                    'string" (lower case, nothing after it)',
                )
        elif _LOOKS_NOT_SET.match(line):
            raise ConfigError(
                path,
                n,
                f"{raw.strip()!r} is read as a comment: write '# CONFIG_NAME is not set' "
                "exactly (one space after '#') to unset an option",
            )
        elif line and not line.startswith("#"):
            raise ConfigError(
                path,
                n,
                f"not a Kconfig line: {raw!r} (expected CONFIG_NAME=value or "
                "'# CONFIG_NAME is not set')",
            )
        else:
            continue
        if req.name in first:
            raise ConfigError(
                path, n, f"CONFIG_{req.name} is set again (first on line {first[req.name]})"
            )
        first[req.name] = n
        requests.append(req)
    return requests


def parse_config(path: Path) -> dict[str, str]:
    """Read a .config into {name: value}; unset options are 'n'."""
    values: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        if m := _NOT_SET.match(line):
            values[m[1]] = "n"
        elif m := _SET.match(line):
            values[m[1]] = m[2]
    return values


def effective_requests(fragments: list[Path]) -> dict[str, Request]:
    """Last request wins, as with merge_config.sh."""
    merged: dict[str, Request] = {}
    for frag in fragments:
        for req in parse_fragment(frag):
            merged[req.name] = req
    return merged


def known_symbols(srctree: Path) -> set[str]:
    """Every symbol some Kconfig file in the tree declares."""
    symbols: set[str] = set()
    for kc in srctree.rglob("Kconfig*"):
        if kc.is_file():
            symbols.update(_KCONFIG_SYMBOL.findall(kc.read_text(errors="replace")))
    return symbols


@dataclass(frozen=True)
class Mismatch:
    request: Request
    actual: str | None
    unknown_symbol: bool

    def __str__(self) -> str:
        if self.unknown_symbol:
            why = f"CONFIG_{self.request.name} is not a Kconfig symbol of this kernel"
        else:
            got = "not set" if self.actual in (None, "n") else f"={self.actual}"
            why = f"asked for {self.request}, got {got} (unmet dependency or invalid value?)"
        return f"{self.request.where}: {why}"


class ConfigNotAppliedError(KqualError):
    def __init__(self, mismatches: list[Mismatch], config: Path) -> None:
        self.mismatches = mismatches
        lines = "\n".join(f"  {m}" for m in mismatches)
        super().__init__(
            f"{len(mismatches)} requested option(s) did not take effect in {config}:\n{lines}\n"
            "Fix or remove these lines; 'make menuconfig' shows an option's dependencies."
        )


def check_applied(
    requests: dict[str, Request], config: dict[str, str], symbols: set[str] | None = None
) -> list[Mismatch]:
    """Requests whose value the final .config does not carry."""
    out = []
    for req in requests.values():
        actual = config.get(req.name)
        if req.value == "n":
            ok = actual in (None, "n")
        else:
            ok = actual == req.value
        if not ok:
            unknown = symbols is not None and req.name not in symbols
            out.append(Mismatch(req, actual, unknown))
    return out


_ANY_LINE = re.compile(r"^(?:# )?CONFIG_(\w+)[= ]")


def apply_requests(config: Path, requests: dict[str, Request]) -> None:
    """Write requests over a .config in place (for trees without merge_config.sh)."""
    pending = dict(requests)
    out = []
    for line in Path(config).read_text().splitlines():
        m = _ANY_LINE.match(line)
        out.append(str(pending.pop(m[1])) if m and m[1] in pending else line)
    out += [str(r) for r in pending.values()]
    Path(config).write_text("\n".join(out) + "\n")
