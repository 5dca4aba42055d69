"""The kernel source tree: extracted once, patched, shared read-only.

Every candidate builds out of tree (O=) from the same tree, so extracting and
patching happen once per (tarball, patch series). A file lock lets parallel
xdist workers wait for one extraction instead of racing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from ..core.errors import KqualError
from ..core.fingerprint import Fingerprint
from ..core.paths import cache_dir, work_dir
from ..core.progress import say
from ..core.runner import require_tool, run_logged
from ..core.stage import Stage
from ..settings.target import Target
from .kconfig import known_symbols
from .patches import apply_series

# kqual qualifies Cortex-M kernels: the boot wrapper, the Thumb-2 syscall scan and
# the pruned syscall table are ARM's, so the architecture is no setting.
ARCH = "arm"
SYSCALL_TABLE = f"arch/{ARCH}/tools/syscall.tbl"


@dataclass(frozen=True)
class KernelSource:
    tree: Path
    version: str
    fingerprint: Fingerprint
    timestamp: int = 0  # the tarball's mtime: the build date stamped into the kernel

    @property
    def syscall_table(self) -> Path:
        return self.tree / SYSCALL_TABLE


def source_fingerprint(target: Target) -> Fingerprint:
    tarball = target.source_tarball
    st = tarball.stat()
    fp = Fingerprint()
    fp.parts["tarball"] = f"{tarball.name}:{st.st_size}:{st.st_mtime_ns}"
    fp.add_tree("kernel-patches", target.kernel_patches)
    return fp


def kernel_version(tree: Path) -> str:
    text = (tree / "Makefile").read_text()[:2000]
    fields = dict(
        re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)[ \t]*=[ \t]*(\S*)", text, re.M)
    )
    return "{VERSION}.{PATCHLEVEL}.{SUBLEVEL}{EXTRAVERSION}".format(**{"EXTRAVERSION": ""} | fields)


_prepared: dict[str, KernelSource] = {}


def _source_stage(fp: Fingerprint) -> Stage:
    """The extracted tree's stage: work/src/linux-<fingerprint>/tree."""
    root = work_dir() / "src" / f"linux-{fp.short}"
    return Stage("kernel source", root, fp, [root / "tree" / "Makefile"])


def prepare_source(target: Target, log_dir: Path) -> KernelSource:
    """The extracted, patched tree; checked once per process."""
    fp = source_fingerprint(target)
    if fp.digest in _prepared and (_prepared[fp.digest].tree / "Makefile").exists():
        return _prepared[fp.digest]
    stage = _source_stage(fp)
    root, tree = stage.folder, stage.folder / "tree"
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if stage.begin():
            if tree.exists():
                subprocess.run(["chmod", "-R", "u+w", tree], check=False)
                shutil.rmtree(tree)
            tmp = root / "extract"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            log = log_dir / "kernel-source.log"
            say(f"extracting {target.source_tarball}")
            run_logged(["tar", "-xf", target.source_tarball, "-C", tmp], log, "extract kernel")
            (top,) = [p for p in tmp.iterdir() if p.is_dir()]
            top.rename(tree)
            tmp.rmdir()
            apply_series(target.kernel_patches, tree, log, "patch kernel")
            # Read-only, so no build can write into the shared tree by mistake.
            subprocess.run(["chmod", "-R", "a-w", tree], check=True)
            stage.done()
    _prepared[fp.digest] = KernelSource(
        tree, kernel_version(tree), fp, int(target.source_tarball.stat().st_mtime)
    )
    return _prepared[fp.digest]


@dataclass(frozen=True)
class SourceFacts:
    """What checks before any build need from the kernel source."""

    syscall_table: Path
    symbols: frozenset[str]  # every Kconfig symbol the tree declares


def source_facts(target: Target) -> SourceFacts:
    """The syscall table and Kconfig symbols, without preparing the tree.

    Kept in the cache, keyed like the tree, so a pytest start reads two small
    files. Filled once: from the prepared tree when there is one, else from
    the tarball's syscall.tbl and Kconfig files (about 10 s).
    """
    fp = source_fingerprint(target)
    cached = cache_dir() / "kernel-facts" / fp.short
    if not (cached / "symbols.txt").exists():
        stage = _source_stage(fp)
        _store_facts(target, stage.folder / "tree" if stage.up_to_date() else None, cached)
    return SourceFacts(
        cached / "syscall.tbl", frozenset((cached / "symbols.txt").read_text().split())
    )


def _store_facts(target: Target, tree: Path | None, dest: Path) -> None:
    """Publish the table and the symbol list of `tree` (None: of the tarball) at `dest`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if tree is None:
            tree = _extract_kconfig_and_table(target, tmp / "src")
        shutil.copyfile(tree / SYSCALL_TABLE, tmp / "syscall.tbl")
        (tmp / "symbols.txt").write_text("\n".join(sorted(known_symbols(tree))) + "\n")
        shutil.rmtree(tmp / "src", ignore_errors=True)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_kconfig_and_table(target: Target, into: Path) -> Path:
    """Only syscall.tbl and the Kconfig files of the tarball; the tree's root."""
    require_tool("tar")
    into.mkdir(parents=True)
    out = subprocess.run(
        ["tar", "-xf", str(target.source_tarball), "-C", str(into), "--wildcards"]
        + [f"*/{SYSCALL_TABLE}", "*Kconfig*"],
        capture_output=True,
    )
    tables = list(into.glob(f"*/{SYSCALL_TABLE}"))
    if out.returncode != 0 or not tables:
        raise KqualError(
            f"{target.source_tarball}: no {SYSCALL_TABLE} in it "
            f"({out.stderr.decode(errors='replace').strip()[:200]}); is it a Linux source tarball?"
        )
    return tables[0].parents[3]
