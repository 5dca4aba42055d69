"""A kernel source tree's identity and the facts read from it before any build.

The syscall table and the Kconfig symbols are what the inputs are checked
against; they come from the prepared tree when there is one, else straight
from the tarball, and are cached, keyed like the tree.
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
from ..core.runner import require_tool
from ..core.stage import Stage
from .kconfig import known_symbols

# kqual qualifies Cortex-M kernels: the boot wrapper, the Thumb-2 syscall scan and
# the pruned syscall table are ARM's, so the architecture is no setting.
ARCH = "arm"
SYSCALL_TABLE = f"arch/{ARCH}/tools/syscall.tbl"


def source_fingerprint(tarball: Path, patches: Path) -> Fingerprint:
    """What the extracted, patched tree is made of: the tarball and the patch series."""
    st = tarball.stat()
    fp = Fingerprint()
    fp.parts["tarball"] = f"{tarball.name}:{st.st_size}:{st.st_mtime_ns}"
    fp.add_tree("kernel-patches", patches)
    return fp


def kernel_version(tree: Path) -> str:
    text = (tree / "Makefile").read_text()[:2000]
    fields = dict(
        re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)[ \t]*=[ \t]*(\S*)", text, re.M)
    )
    return "{VERSION}.{PATCHLEVEL}.{SUBLEVEL}{EXTRAVERSION}".format(**{"EXTRAVERSION": ""} | fields)


def source_stage(fp: Fingerprint) -> Stage:
    """The extracted tree's stage: work/src/linux-<fingerprint>/tree."""
    root = work_dir() / "src" / f"linux-{fp.short}"
    return Stage("kernel source", root, fp, [root / "tree" / "Makefile"])


@dataclass(frozen=True)
class SourceFacts:
    """What checks before any build need from the kernel source."""

    syscall_table: Path
    symbols: frozenset[str]  # every Kconfig symbol the tree declares


def source_facts(tarball: Path, patches: Path) -> SourceFacts:
    """The syscall table and Kconfig symbols, without preparing the tree.

    Kept in the cache, keyed like the tree, so a pytest start reads two small
    files. Filled once: from the prepared tree when there is one, else from
    the tarball's syscall.tbl and Kconfig files (about 10 s).
    """
    fp = source_fingerprint(tarball, patches)
    cached = cache_dir() / "kernel-facts" / fp.short
    if not (cached / "symbols.txt").exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        # One process fills it; the others, started at once, wait and read it.
        with FileLock(str(cached) + ".lock"):
            if not (cached / "symbols.txt").exists():
                stage = source_stage(fp)
                tree = stage.folder / "tree" if stage.up_to_date() else None
                _store_facts(tarball, tree, cached)
    return SourceFacts(
        cached / "syscall.tbl", frozenset((cached / "symbols.txt").read_text().split())
    )


def _store_facts(tarball: Path, tree: Path | None, dest: Path) -> None:
    """Publish the table and the symbol list of `tree` (None: of the tarball) at `dest`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if tree is None:
            tree = _extract_kconfig_and_table(tarball, tmp / "src")
        shutil.copyfile(tree / SYSCALL_TABLE, tmp / "syscall.tbl")
        (tmp / "symbols.txt").write_text("\n".join(sorted(known_symbols(tree))) + "\n")
        shutil.rmtree(tmp / "src", ignore_errors=True)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_kconfig_and_table(tarball: Path, into: Path) -> Path:
    """Only syscall.tbl and the Kconfig files of the tarball; the tree's root."""
    require_tool("tar")
    into.mkdir(parents=True)
    out = subprocess.run(
        ["tar", "-xf", str(tarball), "-C", str(into), "--wildcards"]
        + [f"*/{SYSCALL_TABLE}", "*Kconfig*"],
        capture_output=True,
    )
    tables = list(into.glob(f"*/{SYSCALL_TABLE}"))
    if out.returncode != 0 or not tables:
        raise KqualError(
            f"{tarball}: no {SYSCALL_TABLE} in it "
            f"({out.stderr.decode(errors='replace').strip()[:200]}); is it a Linux source tarball?"
        )
    return tables[0].parents[3]
