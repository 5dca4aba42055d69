"""A kernel source tree's identity and the facts read from it before any build.

The syscall table and the Kconfig symbols are what the inputs are checked
against; they come from the prepared tree when there is one, else straight
from the tarball, and are cached, keyed like the tree.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from filelock import FileLock

from ..core.errors import KqualError
from ..core.fingerprint import Fingerprint, sha256_file
from ..core.paths import cache_dir, work_dir
from ..core.runner import require_tool
from ..core.stage import Stage
from .kconfig import known_symbols

# kqual qualifies Cortex-M kernels: the boot wrapper, the Thumb-2 syscall scan and
# the pruned syscall table are ARM's, so the architecture is no setting.
ARCH = "arm"
SYSCALL_TABLE = f"arch/{ARCH}/tools/syscall.tbl"
DEFCONFIGS = f"arch/{ARCH}/configs"
DTS = f"arch/{ARCH}/boot/dts"
# What one facts folder holds; a folder missing any of them is filled again.
FACT_FILES = ("syscall.tbl", "symbols.txt", "defconfigs.txt", "dtbs.txt")


def source_fingerprint(source: Path, patches: Path) -> Fingerprint:
    """What the patched tree is made of: the tarball (or the folder's content) and
    the patch series."""
    fp = Fingerprint()
    if source.is_dir():
        fp.parts["folder"] = _identity_once(source.resolve())
    else:
        st = source.stat()
        fp.parts["tarball"] = f"{source.name}:{st.st_size}:{st.st_mtime_ns}"
    fp.add_tree("kernel-patches", patches)
    return fp


def folder_identity(folder: Path) -> str:
    """A digest of a source folder's content. A git checkout: its commit, the diff of
    a dirty tree and the untracked files (by content). Any other folder: every
    file's path, size and modification time (reading 1 GB of sources at each
    start would cost more than it tells)."""
    h = hashlib.sha256()
    if _is_checkout(folder):
        h.update(b"git\0" + (_git(folder, "rev-parse", "HEAD") or b"no commit"))
        # diff-index reads the index and writes nothing (`git diff` would refresh
        # the index of a tree whose file times moved: a write into the folder).
        h.update(_git(folder, "diff-index", "-p", "--binary", "HEAD") or b"")
        others = _git(folder, "ls-files", "--others", "--exclude-standard", "-z") or b""
        for entry in sorted(n for n in others.split(b"\0") if n):
            untracked = folder / entry.decode(errors="replace")
            h.update(entry + b"\0" + sha256_file(untracked).encode())
        return "git:" + h.hexdigest()
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            st = path.lstat()
            rel = path.relative_to(folder).as_posix()
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return "files:" + h.hexdigest()


@cache
def _identity_once(folder: Path) -> str:
    """A run reads the tree's identity once: it is asked at every stage check, and a
    tree changed under a running build is not supported anyway."""
    return folder_identity(folder)


def _is_checkout(folder: Path) -> bool:
    """The folder is the top of a git checkout (not a folder inside another's)."""
    top = _git(folder, "rev-parse", "--show-toplevel")
    return top is not None and Path(top.decode().strip()).resolve() == folder.resolve()


def _git(folder: Path, *args: str) -> bytes | None:
    if shutil.which("git") is None:
        return None
    out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True)
    return out.stdout if out.returncode == 0 else None


def source_timestamp(source: Path) -> int:
    """The build date stamped into the kernel: the tarball's time, a checkout's
    commit time, or the folder's Makefile's."""
    if source.is_dir():
        when = _git(source, "log", "-1", "--format=%ct") if _is_checkout(source) else None
        return int(when) if when and when.strip() else int((source / "Makefile").stat().st_mtime)
    return int(source.stat().st_mtime)


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
    defconfigs: frozenset[str] = frozenset()  # names under arch/arm/configs
    dtbs: frozenset[str] = frozenset()  # blobs the dts Makefiles build, as "arm/x.dtb"


def source_facts(tarball: Path, patches: Path) -> SourceFacts:
    """The syscall table and Kconfig symbols, without preparing the tree.

    Kept in the cache, keyed like the tree, so a pytest start reads two small
    files. Filled once: from the prepared tree when there is one, else from
    the tarball's syscall.tbl and Kconfig files (about 10 s).
    """
    fp = source_fingerprint(tarball, patches)
    cached = cache_dir() / "kernel-facts" / fp.short

    def complete() -> bool:
        return all((cached / name).exists() for name in FACT_FILES)

    if not complete():
        cached.parent.mkdir(parents=True, exist_ok=True)
        # One process fills it; the others, started at once, wait and read it.
        with FileLock(str(cached) + ".lock"):
            if not complete():
                _store_facts(tarball, _readable_tree(tarball, fp), cached)

    def words(name: str) -> frozenset[str]:
        return frozenset((cached / name).read_text().split())

    return SourceFacts(
        cached / "syscall.tbl", words("symbols.txt"), words("defconfigs.txt"), words("dtbs.txt")
    )


def source_mentions(tarball: Path, patches: Path, names: set[str]) -> set[str]:
    """Of `names` (C identifiers), those some .c, .S or .h file of the tree holds as a
    word. One pass over the sources answers all unknown names; each answer is kept
    with the tree's facts, so a name is looked up once per tree."""
    fp = source_fingerprint(tarball, patches)
    folder = cache_dir() / "kernel-facts" / fp.short / "words"
    if not all(re.fullmatch(r"[A-Za-z_]\w*", n) for n in names):
        raise ValueError(f"not C identifiers: {sorted(names)}")  # a caller's bug
    unknown = sorted(n for n in names if not (folder / n).exists())
    if unknown:
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):
            unknown = [n for n in unknown if not (folder / n).exists()]
            if unknown:
                found = _grep_words(tarball, _readable_tree(tarball, fp), unknown)
                for n in unknown:
                    tmp = folder / f".{n}.{os.getpid()}.tmp"
                    tmp.write_text("1\n" if n in found else "0\n")
                    os.replace(tmp, folder / n)
    return {n for n in names if (folder / n).read_text() == "1\n"}


def _readable_tree(source: Path, fp: Fingerprint) -> Path | None:
    """A tree to read facts from without extracting: the folder given, or the
    prepared tree of a tarball (None: read the tarball)."""
    if source.is_dir():
        return source
    stage = source_stage(fp)
    return stage.folder / "tree" if stage.up_to_date() else None


def _grep_words(tarball: Path, tree: Path | None, names: list[str]) -> set[str]:
    """The `names` that appear as words in the sources (the prepared tree, or the
    tarball streamed through grep: about 15 s)."""
    require_tool("grep")
    grep = ["grep", "-owF", "-I", *(arg for n in names for arg in ("-e", n))]
    if tree is not None:
        grep += ["-h", "-r", "--include=*.[chS]", str(tree)]
        out = subprocess.run(grep, capture_output=True)
    else:
        require_tool("tar")
        tar = subprocess.Popen(
            ["tar", "-xOf", str(tarball), "--wildcards", "*.c", "*.h", "*.S"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            out = subprocess.run(grep, stdin=tar.stdout, capture_output=True)
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait()
    if out.returncode > 1:
        raise KqualError(f"searching {tree or tarball} for {names}: {out.stderr.decode()[:200]}")
    return set(out.stdout.decode(errors="replace").split())


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
        defconfigs = [p.name for p in (tree / DEFCONFIGS).glob("*_defconfig")]
        (tmp / "defconfigs.txt").write_text("\n".join(sorted(defconfigs)) + "\n")
        (tmp / "dtbs.txt").write_text("\n".join(sorted(dtb_targets(tree / DTS))) + "\n")
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
        + [f"*/{SYSCALL_TABLE}", "*Kconfig*", f"*/{DEFCONFIGS}/*", f"*/{DTS}/*Makefile"],
        capture_output=True,
    )
    tables = list(into.glob(f"*/{SYSCALL_TABLE}"))
    if out.returncode != 0 or not tables:
        raise KqualError(
            f"{tarball}: no {SYSCALL_TABLE} in it "
            f"({out.stderr.decode(errors='replace').strip()[:200]}); is it a Linux source tarball?"
        )
    return tables[0].parents[3]


_DTB_LINE = re.compile(r"^dtb-[^+:=]*\+?=((?:[^\n]*\\\n)*[^\n]*)", re.M)


def dtb_targets(dts: Path) -> set[str]:
    """The device tree blobs the tree's dts Makefiles build ("arm/mps2-an385.dtb"),
    whatever option guards them: what `kernel.dtb` may name."""
    found: set[str] = set()
    for makefile in dts.rglob("Makefile"):
        folder = makefile.parent.relative_to(dts).as_posix()
        prefix = "" if folder == "." else folder + "/"
        for m in _DTB_LINE.finditer(makefile.read_text(errors="replace")):
            found.update(
                prefix + w for w in m[1].replace("\\\n", " ").split() if w.endswith(".dtb")
            )
    return found
