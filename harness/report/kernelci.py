"""Verdicts in the shape KernelCI reads: the JSON kunit_tool's --json writes.

tools/testing/kunit/kunit_json.py nests groups of test cases, each case a
name and a status (PASS, FAIL, SKIP, ERROR), every group carrying the same
common fields. Here a cycle is a group, each candidate a sub-group, and each
step the cycle requires of it a test case, taken from this run's records: a
step with no outcome in this run is an ERROR, never a PASS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.verdicts import StepName
from ..settings.cycles import CycleDef
from .results import read_record
from .selection import required_steps

GROUP = "kqual"


def candidate_group(cycle: CycleDef, root: Path, name: str, run_id: str) -> dict[str, Any] | None:
    """The candidate's steps as test cases; None when it has no record of this run."""
    r = read_record(root / name)
    if r is None or r.run_id != run_id:
        return None
    cases = []
    if r.skipped:
        cases.append({"name": StepName.BUILD.value, "status": "SKIP"})
    else:
        for step in required_steps(cycle, name):
            got = r.steps.get(step)
            status = "ERROR" if got is None else "PASS" if got.ok else "FAIL"
            cases.append({"name": step.value, "status": status})
    return {"name": name, "sub_groups": [], "test_cases": cases}


def kernelci_json(
    cycles: dict[str, CycleDef], roots: dict[str, Path], run_id: str, arch: str, defconfig: str
) -> str | None:
    """The run's groups: one per cycle that has records of this run (None: no cycle has)."""
    common = {
        "arch": arch,
        "defconfig": defconfig,
        "build_environment": run_id,
        "lab_name": None,
        "kernel": None,
        "job": None,
        "git_branch": "kqual",
    }
    groups = []
    for name, cycle in cycles.items():
        subs = [
            g
            for c in cycle.candidates
            if (g := candidate_group(cycle, roots[name], c.name, run_id)) is not None
        ]
        if subs:
            groups.append(
                {"name": name, "sub_groups": [s | common for s in subs], "test_cases": []}
            )
    if not groups:
        return None
    top = {"name": GROUP, "sub_groups": [g | common for g in groups], "test_cases": []} | common
    return json.dumps(top, indent=4) + "\n"
