"""Exceptions with messages a user can act on.

Every error kqual raises for bad input or a failed step derives from
KqualError, so the command-line entry points and pytest hooks can print the
message alone instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class KqualError(Exception):
    """Base class: the message is meant for the user, as is."""


class ConfigError(KqualError):
    """A configuration file is malformed; names the file, line and key."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: {message}")


class ToolMissingError(KqualError):
    """A program kqual needs is not installed."""

    def __init__(self, tool: str, package: str) -> None:
        super().__init__(
            f"'{tool}' was not found on PATH. Install the Debian package '{package}' "
            f"(or run '.ci/setup', which installs everything kqual needs)."
        )


class StepError(KqualError):
    """A long step (build, boot, trace) failed; carries the tail of its log."""

    def __init__(self, step: str, log: Path | None, tail: str, detail: str = "") -> None:
        self.step = step
        self.log = log
        self.tail = tail
        parts = [f"{step} failed" + (f": {detail}" if detail else "")]
        if log is not None:
            parts.append(f"full log: {log}")
        if tail:
            parts.append("last lines of the log:\n" + tail)
        super().__init__("\n".join(parts))


class MissingMeasurement(KqualError):
    """A figure the candidate's own run should have given is not there (its failure)."""


class CandidateSkipped(KqualError):
    """A derivation decided the candidate is not worth building ("code: why")."""
