"""Apply a folder of patches as a quilt-style series.

The order comes from the folder's `series` file (one patch name per line, '#'
comments), or from sorted *.patch names when there is none. A patch the series
marks `provides=FEATURE` is tried first (patch --dry-run): one that does not
apply to this tree is left out, named, and what kqual loses without it is said.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..core.progress import say
from ..core.runner import require_tool, run_logged
from ..settings.patches import FEATURES, read_series


@dataclass(frozen=True)
class LostPatch:
    """An optional patch that did not apply, and what goes with it."""

    patch: str
    provides: str
    lost: str  # what kqual does without it (FEATURES)

    def line(self) -> str:
        return f"{self.patch} did not apply ({self.provides}): {self.lost}"


@dataclass(frozen=True)
class SeriesOutcome:
    applied: list[str] = field(default_factory=list)
    lost: list[LostPatch] = field(default_factory=list)
    features: frozenset[str] = frozenset()  # what the applied optional patches give


def apply_series(folder: Path, tree: Path, log: Path, step: str) -> SeriesOutcome:
    applied: list[str] = []
    lost: list[LostPatch] = []
    features: set[str] = set()
    for entry in read_series(folder):
        p = entry.path
        if entry.provides is not None:
            dry = subprocess.run(
                [require_tool("patch"), "-p1", "--forward", "--batch", "--dry-run", "-i", p],
                cwd=tree,
                capture_output=True,
                text=True,
                errors="replace",
                stdin=subprocess.DEVNULL,
            )
            if dry.returncode != 0:
                missing = LostPatch(p.name, entry.provides, FEATURES[entry.provides])
                log.parent.mkdir(parents=True, exist_ok=True)
                with open(log, "a") as out:
                    out.write(f"$ patch --dry-run -i {p}\n{dry.stdout}{dry.stderr}")
                    out.write(f"kqual: left out: {missing.line()}\n")
                say(f"{step}: {missing.line()}")
                lost.append(missing)
                continue
            features.add(entry.provides)
        run_logged(
            ["patch", "-p1", "--forward", "--batch", "-i", p],
            log,
            f"{step}: {p.name}",
            cwd=tree,
            append=True,
        )
        applied.append(p.name)
    return SeriesOutcome(applied, lost, frozenset(features))
