"""Symbol size deltas between two vmlinux files, by the kernel's own bloat-o-meter.

Kernel people read bloat-o-meter's numbers; its rules (generated `.NUMBER`
suffixes stripped, `__se_sys*` wrappers and a few others skipped) are the
kernel's to keep, so kqual runs the script from the source tree it built
from instead of keeping a copy of them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..core.errors import StepError
from ..core.paths import cycle_dir
from ..image.kernel_source import prepare_source
from ..settings.target import Target


@dataclass
class Bloat:
    header: str  # "add/remove: a/r grow/shrink: g/s up/down: u/d (total)", verbatim
    deltas: list[tuple[str, int, int, int]] = field(default_factory=list)  # largest first
    total: str = ""  # "Total: Before=..., After=..., chg ..."


def _size(text: str) -> int:
    return 0 if text == "-" else int(text)


def parse(output: str) -> Bloat:
    """bloat-o-meter's report: its header line, the symbol rows and the Total line."""
    lines = [ln for ln in output.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("add/remove:"):
        raise ValueError(f"not bloat-o-meter output: {output[:200]!r}")
    bloat = Bloat(lines[0].strip())
    for line in lines[1:]:
        fields = line.split()
        if line.startswith("Total:"):
            bloat.total = line.strip()
        elif len(fields) == 4 and fields[3].lstrip("+-").isdigit():
            name, old, new, delta = fields
            bloat.deltas.append((name, _size(old), _size(new), int(delta)))
    bloat.deltas.sort(key=lambda d: (-abs(d[3]), d[0]))
    return bloat


def bloat_o_meter(srctree: Path, old: Path, new: Path, prefix: str) -> Bloat:
    """Run scripts/bloat-o-meter of `srctree` with the target's nm (`prefix`nm)."""
    script = srctree / "scripts" / "bloat-o-meter"
    argv = [sys.executable, str(script), "-p", prefix, str(old), str(new)]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.startswith("add/remove:"):
        raise StepError("bloat-o-meter", None, out.stderr.strip()[-1000:], " ".join(argv))
    return parse(out.stdout)


def bloat_tool(target: Target) -> Callable[[Path, Path], Bloat]:
    """bloat-o-meter from the target's kernel source, with the target's nm."""

    @cache
    def tree() -> Path:
        return prepare_source(target, cycle_dir(target.name, "")).tree

    def run(old: Path, new: Path) -> Bloat:
        return bloat_o_meter(tree(), old, new, target.cross)

    return run
