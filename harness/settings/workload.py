"""The workload: shell steps, each with a regex its output must match.

Two formats: YAML (configs/workload.yaml) and the older one-line
`label|command|expected regex` files. In the line format the label ends at
the first '|' and the regex starts after the last one, so a command may
contain pipes but a regex then may not.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ConfigError
from ..core.textfile import read_text
from .schema import LocatedList, bind, load_yaml

_LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class Step:
    label: str
    command: str
    expect: str
    exit_status: int | None = field(default=0, metadata={"min": 0, "max": 255})
    timeout_s: float | None = field(default=None, metadata={"above": 0})
    line: int = field(default=0, compare=False)

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.expect, re.M | re.S)

    def failure(self, output: str, status: int) -> str | None:
        """Why this output and exit status fail the step; None when they pass."""
        if self.exit_status is not None and status != self.exit_status:
            return f"{self.command!r} exited {status}, expected {self.exit_status}"
        if not self.pattern.search(output):
            return f"output of {self.command!r} does not match /{self.expect}/"
        return None


@dataclass
class Workload:
    path: Path
    steps: list[Step]
    sha256: str

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.steps]


@dataclass
class _WorkloadFile:
    steps: list[Step]


def _check(step: Step, path: Path, line: int, seen: dict[str, int]) -> None:
    if not _LABEL.match(step.label):
        raise ConfigError(path, line, f"label {step.label!r} may only hold letters, digits, _ . -")
    if step.label in seen:
        raise ConfigError(
            path, line, f"label '{step.label}' already used on line {seen[step.label]}"
        )
    if not step.command.strip():
        raise ConfigError(path, line, f"step '{step.label}' has an empty command")
    if "\n" in step.command:
        raise ConfigError(path, line, f"step '{step.label}': a command must be one line")
    if not step.expect:
        raise ConfigError(
            path,
            line,
            f"step '{step.label}': an empty 'expect' matches any output; give the regex "
            "its output must match ('.*' to check the exit status alone)",
        )
    try:
        re.compile(step.expect)
    except re.error as e:
        raise ConfigError(
            path, line, f"step '{step.label}': bad regex {step.expect!r}: {e}"
        ) from None
    seen[step.label] = line


def parse_lines(text: str, path: Path) -> list[Step]:
    steps: list[Step] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.count("|") < 2:
            raise ConfigError(path, n, f"expected 'label|command|expected regex', got {raw!r}")
        label, rest = line.split("|", 1)
        command, expect = rest.rsplit("|", 1)
        step = Step(label.strip(), command.strip(), expect.strip(), line=n)
        _check(step, path, n, seen)
        steps.append(step)
    return steps


def parse_yaml(path: Path, text: str | None = None) -> list[Step]:
    text = read_text(path) if text is None else text
    data = load_yaml(path, text)
    if not isinstance(data, dict):
        raise ConfigError(path, getattr(data, "line", None), "expected a mapping with 'steps:'")
    wf = bind(_WorkloadFile, data, path)
    raw_steps = data["steps"]
    lines = raw_steps.item_lines if isinstance(raw_steps, LocatedList) else [0] * len(wf.steps)
    seen: dict[str, int] = {}
    source = text.splitlines()
    for step, raw, line in zip(wf.steps, raw_steps, lines, strict=True):
        step.line = line
        _check(step, path, line, seen)
        _check_comment(step, raw, source, path)
    return wf.steps


_UNQUOTED_CUT = re.compile(r"\bcommand:\s*+(?![\"'])[^#]*\s#")


def _check_comment(step: Step, raw: object, source: list[str], path: Path) -> None:
    """In YAML a ' #' ends an unquoted value: the rest of the command would be
    dropped without a word."""
    n = getattr(raw, "key_lines", {}).get("command")
    if n and _UNQUOTED_CUT.search(source[n - 1]):
        raise ConfigError(
            path,
            n,
            f"step '{step.label}': a '#' in an unquoted command starts a YAML comment, "
            f"so the command would be {step.command!r}; quote the command",
        )


def load_workload(path: Path) -> Workload:
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, None, "workload file not found")
    text = read_text(path)  # read once: parsed, and hashed for the profile cache key
    yaml_file = path.suffix in (".yaml", ".yml")
    steps = parse_yaml(path, text) if yaml_file else parse_lines(text, path)
    if not steps:
        raise ConfigError(path, None, "the workload has no steps")
    return Workload(path, steps, hashlib.sha256(text.encode()).hexdigest())
