"""Which installed applets a workload runs: the measure of how much of the
shipped userspace a qualification has actually exercised.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..settings.workload import Workload

# Shell operators that start a new command; `$(` and backquotes start one too.
_SPLIT = re.compile(r"&&|\|\||\$\(|[;|&()`]")
_KEYWORDS = {"!", "if", "then", "else", "elif", "do", "while", "until", "time", "exec", "{"}
# Applets that run the command they are given.
_WRAPPERS = {"busybox", "cttyhack", "xargs", "nohup", "env", "timeout", "nice", "chroot"}
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _commands(command: str) -> list[list[str]]:
    """The simple commands of a line, quote-aware; a broken line is split on operators."""
    text = command.replace("$(", " ( ").replace("`", " ( ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return [segment.split() for segment in _SPLIT.split(command)]
    out: list[list[str]] = [[]]
    for tok in tokens:
        if tok and all(c in ";&|()" for c in tok):
            out.append([])
        elif tok and all(c in "<>" for c in tok):
            out[-1].append("")  # the redirection's target is not a command
        else:
            out[-1].append(tok)
    return out


def applets_in(command: str, applets: set[str]) -> set[str]:
    """The applets a shell command line starts (best effort, no expansion)."""
    used: set[str] = set()
    for words in _commands(command):
        while words and (words[0] in _KEYWORDS or _ASSIGN.match(words[0])):
            words.pop(0)
        while words:
            name = PurePosixPath(words[0]).name
            if name in applets:
                used.add(name)
            if name not in _WRAPPERS:
                break
            words = [w for w in words[1:] if not w.startswith("-")]
    return used


@dataclass
class AppletCoverage:
    installed: list[str]
    exercised: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.installed) - set(self.exercised))

    def as_json(self) -> dict:
        return {
            "installed": len(self.installed),
            "exercised": len(self.exercised),
            "missing": self.missing,
        }


def applet_coverage(workload: Workload, links: list[str]) -> AppletCoverage:
    """Coverage of the applets `links` installs (busybox.links paths) by the workload."""
    installed = sorted({PurePosixPath(p).name for p in links} | {"busybox"})
    used: set[str] = set()
    for step in workload.steps:
        used |= applets_in(step.command, set(installed))
    return AppletCoverage(installed, sorted(used))
