"""harness/'s imports follow the flow: a step may use an earlier one, never a later.

Read with ast, so a new import against the flow fails here before it becomes
a cycle. The derivation registry finds harness/derive/ by name at run time
(importlib), not by import: that is how a later step registers with an
earlier one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parent.parent / "harness"

# The pipeline, in order. Top-level modules (the plugin, the CLIs, cycle_run)
# tie the steps together and may import any of them.
FLOW = (
    "core",  # errors, paths, fingerprints, stages, verdict words
    "kernel",  # facts of a kernel tree: syscall table, Kconfig, System.map
    "settings",  # every input, read and checked
    "image",  # source, userspace, kernel build, boot wrapper
    "boot",  # QEMU sessions and the console
    "trace",  # trace collection, parsing, profiles
    "scan",  # static syscall scan of the userspace
    "search",  # the size search
    "derive",  # what a candidate adds to its parent
    "report",  # records, selection, summaries
)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, harness subpackage) of each relative import of a module."""
    rel = path.relative_to(HARNESS)
    package = list(rel.parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        base = package[: len(package) - (node.level - 1)]
        parts = [*base, *(node.module.split(".") if node.module else [])]
        if parts:
            out.append((node.lineno, parts[0]))
        else:  # from . import x (at the top of harness)
            out += [(node.lineno, a.name) for a in node.names]
    return out


def _violations() -> list[str]:
    found = []
    for path in sorted(HARNESS.rglob("*.py")):
        rel = path.relative_to(HARNESS)
        if len(rel.parts) == 1:
            continue  # a top-level module: the wiring
        step = rel.parts[0]
        for line, target in _imports(path):
            if target in FLOW and FLOW.index(target) > FLOW.index(step):
                found.append(f"harness/{rel}:{line}: {step} imports the later step {target}")
    return found


def test_every_subpackage_is_a_step_of_the_flow():
    packages = {p.name for p in HARNESS.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(FLOW)


def test_no_step_imports_a_later_one():
    assert _violations() == []


@pytest.mark.parametrize(
    "text,bad",
    [
        ("from ..report.results import Records\n", True),
        ("from ..core.paths import work_dir\n", False),
        ("from .qemu import QemuSession\n", False),
    ],
)
def test_the_check_sees_an_import_against_the_flow(tmp_path, monkeypatch, text, bad):
    me = sys.modules[__name__]
    fake = tmp_path / "harness"
    (fake / "boot").mkdir(parents=True)
    (fake / "boot" / "__init__.py").write_text("")
    (fake / "boot" / "x.py").write_text(text)
    monkeypatch.setattr(me, "HARNESS", fake)
    assert bool(me._violations()) is bad
