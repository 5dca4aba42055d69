"""result.json: one record per candidate per run, and the only schema of it.

Building, booting, the workload and the checks happen in different fixtures
(and under xdist in different processes), so the record is updated under a
lock. It belongs to one run: the first write of a new run starts it afresh,
so no verdict of an earlier run can stand in this one. Every step records
its outcome, failures included; a step with no outcome did not run here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from filelock import FileLock

from ..core import jsonfile
from ..core.publish import write_atomic
from ..core.verdicts import StepName


@dataclass
class Outcome:
    ok: bool
    detail: str = ""


@dataclass
class CandidateRecord:
    """What a run found of one candidate, as the selection reads it."""

    run_id: str
    steps: dict[StepName, Outcome] = field(default_factory=dict)
    linux_axf_bytes: int | None = None
    shell_ready_ms: float | None = None
    guest_shell_ready_ms: float | None = None
    sections: dict[str, int] = field(default_factory=dict)
    locality: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None  # "reason: detail", when a derivation chose not to build it
    # Syscalls pruned although the userspace can call them: name -> calling functions.
    reachable_pruned: dict[str, list[str]] | None = None
    # What stays in RAM (sections.resident) and what the kernel leaves at shell-ready.
    kernel_resident_bytes: int | None = None
    mem_total_bytes: int | None = None
    mem_free_bytes: int | None = None
    mem_available_bytes: int | None = None
    syscall_counts: dict[str, int] = field(default_factory=dict)  # reachable, traced, ...
    facts: dict[str, Any] = field(default_factory=dict)  # the rest: derivations' own

    def get(self, key: str, default: Any = None) -> Any:
        """A fact no field names (a derivation's own)."""
        return self.facts.get(key, default)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CandidateRecord:
        """The record; ValueError when a field does not have its type (a damaged or
        edited file must not read as a verdict)."""
        raw_steps = data.get("steps") or {}
        if not isinstance(raw_steps, dict) or not isinstance(data.get("run_id", ""), str):
            raise ValueError("'steps' must be a mapping and 'run_id' a string")
        for key, kinds in _TYPES.items():
            value = data.get(key)
            if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
                raise ValueError(f"{key!r} is {value!r}, not of its type")
        steps = {}
        for name, raw in raw_steps.items():
            try:
                steps[StepName(name)] = Outcome(bool(raw["ok"]), str(raw.get("detail", "")))
            except (ValueError, KeyError, TypeError):
                continue  # a damaged or unknown entry counts as not run
        typed = {f.name for f in fields(cls)} - {"run_id", "steps", "syscall_counts", "facts"}
        counts = {
            k.removeprefix("syscalls_"): v
            for k, v in data.items()
            if k.startswith("syscalls_") and isinstance(v, int)
        }
        rest = {k: v for k, v in data.items() if k not in ("run_id", "steps") and k not in typed}
        return cls(
            str(data.get("run_id", "")),
            steps,
            syscall_counts=counts,
            facts=rest,
            **{k: data[k] for k in typed if data.get(k) is not None},
        )


# The types of the record's typed fields, as JSON gives them.
_TYPES: dict[str, type | tuple[type, ...]] = {
    "linux_axf_bytes": int,
    "shell_ready_ms": (int, float),
    "guest_shell_ready_ms": (int, float),
    "sections": dict,
    "locality": dict,
    "skipped": str,
    "reachable_pruned": dict,
    "kernel_resident_bytes": int,
    "mem_total_bytes": int,
    "mem_free_bytes": int,
    "mem_available_bytes": int,
}


def _read(folder: Path) -> dict[str, Any]:
    try:
        text = (folder / "result.json").read_text()
    except (OSError, UnicodeDecodeError):
        return {}
    return jsonfile.loads("result", text) or {}


def read_record(folder: Path) -> CandidateRecord | None:
    """The record, or None when there is none or it is damaged."""
    data = _read(folder)
    if not data:
        return None
    try:
        return CandidateRecord.from_json(data)
    except ValueError:
        return None


class Records:
    """The result records of one run: a write into a record of another run starts it
    afresh. The run id comes from the plugin's run state (the same in every worker)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def _update(self, folder: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        path = folder / "result.json"
        with FileLock(str(path) + ".lock"):
            data = _read(folder)
            if data.get("run_id") != self.run_id:
                data = {"run_id": self.run_id, "steps": {}}  # a new run: nothing inherited
            change(data)
            write_atomic(path, jsonfile.dumps("result", data, indent=2, sort_keys=True))
        return data

    def update(self, folder: Path, **facts: Any) -> dict[str, Any]:
        """Merge measurements into this run's record."""
        return self._update(folder, lambda data: data.update(facts))

    def step(
        self, folder: Path, step: StepName, ok: bool, detail: str = "", **facts: Any
    ) -> dict[str, Any]:
        """A step's outcome (and its measurements) in this run's record."""

        def change(data: dict[str, Any]) -> None:
            data.update(facts)
            data.setdefault("steps", {})[step.value] = {"ok": ok, "detail": detail[-2000:]}

        return self._update(folder, change)
