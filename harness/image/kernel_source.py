"""The kernel source tree: extracted (or copied from a folder) once, patched,
shared read-only.

Every candidate builds out of tree (O=) from the same tree, so extracting and
patching happen once per (tarball, patch series). A file lock lets parallel
xdist workers wait for one extraction instead of racing.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from ..core import jsonfile
from ..core.fingerprint import Fingerprint
from ..core.progress import say
from ..core.publish import write_atomic
from ..core.runner import run_logged
from ..kernel.source import (
    SYSCALL_TABLE,
    kernel_version,
    source_fingerprint,
    source_stage,
    source_timestamp,
)
from ..settings.patches import read_series
from ..settings.target import Target
from .patches import LostPatch, SeriesOutcome, apply_series


@dataclass(frozen=True)
class KernelSource:
    tree: Path
    version: str
    fingerprint: Fingerprint
    timestamp: int = 0  # the tarball's mtime: the build date stamped into the kernel
    patches: SeriesOutcome = SeriesOutcome()  # what applied, what was left out

    def has(self, feature: str) -> bool:
        """Does an applied patch give `feature` (settings.patches.FEATURES)?"""
        return feature in self.patches.features

    @property
    def patch_facts(self) -> dict[str, object]:
        """For the build record: which of the series applied to this tree."""
        return _outcome_json(self.patches)

    @property
    def syscall_table(self) -> Path:
        return self.tree / SYSCALL_TABLE


_prepared: dict[str, KernelSource] = {}


def prepare_source(target: Target, log_dir: Path) -> KernelSource:
    """The extracted, patched tree; checked once per process."""
    fp = source_fingerprint(target.kernel_source, target.kernel_patches)
    if fp.digest in _prepared and (_prepared[fp.digest].tree / "Makefile").exists():
        return _prepared[fp.digest]
    stage = source_stage(fp)
    root, tree = stage.folder, stage.folder / "tree"
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if stage.begin():
            if tree.exists():
                subprocess.run(["chmod", "-R", "u+w", tree], check=False)
                shutil.rmtree(tree)
            log = log_dir / "kernel-source.log"
            source = target.kernel_source
            if source.is_dir():
                # The user's tree is never written: our patches go into a copy.
                say(f"copying {source} to {tree}: the patches apply to this copy only")
                tree.mkdir(parents=True)
                run_logged(
                    ["rsync", "-a", "--exclude=/.git", f"{source}/", f"{tree}/"],
                    log,
                    "copy kernel",
                )
            else:
                tmp = root / "extract"
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
                say(f"extracting {source}")
                run_logged(["tar", "-xf", source, "-C", tmp], log, "extract kernel")
                (top,) = [p for p in tmp.iterdir() if p.is_dir()]
                top.rename(tree)
                tmp.rmdir()
            outcome = apply_series(target.kernel_patches, tree, log, "patch kernel")
            write_atomic(root / PATCHES, jsonfile.dumps("kernel-patches", _outcome_json(outcome)))
            # Read-only, so no build can write into the shared tree by mistake.
            subprocess.run(["chmod", "-R", "a-w", tree], check=True)
            stage.done()
    _prepared[fp.digest] = KernelSource(
        tree,
        kernel_version(tree),
        fp,
        source_timestamp(target.kernel_source),
        _read_outcome(root / PATCHES, target.kernel_patches),
    )
    return _prepared[fp.digest]


PATCHES = "patches.json"  # beside the tree: which patches of the series applied


def _outcome_json(outcome: SeriesOutcome) -> dict[str, object]:
    return {
        "applied": outcome.applied,
        "lost": [vars(lost) for lost in outcome.lost],
        "features": sorted(outcome.features),
    }


def _read_outcome(path: Path, folder: Path) -> SeriesOutcome:
    """The stage's record; a stage made before it was kept applied the whole
    series (a patch that failed stopped it then)."""
    data = jsonfile.loads("kernel-patches", path.read_text()) if path.is_file() else None
    if data is None:
        entries = read_series(folder)
        return SeriesOutcome(
            [e.path.name for e in entries],
            [],
            frozenset(e.provides for e in entries if e.provides),
        )
    return SeriesOutcome(
        list(data["applied"]),
        [LostPatch(**lost) for lost in data["lost"]],
        frozenset(data["features"]),
    )
