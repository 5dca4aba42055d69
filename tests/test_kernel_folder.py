"""A kernel source folder (a git checkout or not): its identity, and facts read
from it in place, without a write into it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.kernel.source import folder_identity, source_facts, source_timestamp

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

FILES = {
    "Makefile": "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 7\nEXTRAVERSION =\n",
    "arch/arm/tools/syscall.tbl": "0\tcommon\trestart_syscall\tsys_restart_syscall\n",
    "arch/arm/Kconfig": "config ARM\n\tbool\nconfig CPU_V7M\n\tbool\n",
    "init/Kconfig": 'config PRINTK\n\tbool "printk"\n',
    "arch/arm/configs/mps2_defconfig": "CONFIG_PRINTK=y\n",
    "arch/arm/boot/dts/Makefile": (
        "dtb-$(CONFIG_ARCH_MPS2) += \\\n\tmps2-an385.dtb \\\n\tmps2-an399.dtb\n"
    ),
}


def git(folder: Path, *args: str) -> None:
    env = dict(
        os.environ, GIT_AUTHOR_DATE="@1700000000 +0000", GIT_COMMITTER_DATE="@1700000000 +0000"
    )
    subprocess.run(
        ["git", "-C", str(folder), "-c", "user.name=k", "-c", "user.email=k@k", *args],
        check=True,
        capture_output=True,
        env=env,
    )


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "linux"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def manifest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and ".git" not in p.parts:
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_a_checkouts_identity_follows_its_commit_its_diff_and_untracked_files(tree):
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-qm", "base")
    clean = folder_identity(tree)
    assert clean.startswith("git:") and folder_identity(tree) == clean
    assert source_timestamp(tree) == 1700000000  # the commit's time, not the clock's
    (tree / "init/Kconfig").write_text(FILES["init/Kconfig"] + "config KALLSYMS\n\tbool\n")
    dirty = folder_identity(tree)
    assert dirty != clean
    (tree / "new.c").write_text("int x;\n")
    assert folder_identity(tree) not in (clean, dirty)
    (tree / "new.c").unlink()
    git(tree, "commit", "-qam", "kallsyms")
    assert folder_identity(tree) not in (clean, dirty)


def test_a_plain_folders_identity_follows_its_files(tree):
    before = folder_identity(tree)
    assert before.startswith("files:")
    os.utime(tree / "Makefile", ns=(1, 1))
    assert folder_identity(tree) != before


def test_facts_are_read_from_the_folder_and_it_is_left_as_it_was(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("KQUAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KQUAL_WORK", str(tmp_path / "work"))
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "0001-x.patch").write_text("")
    before = manifest(tree)
    facts = source_facts(tree, patches)
    assert {"ARM", "CPU_V7M", "PRINTK"} <= facts.symbols
    assert facts.defconfigs == {"mps2_defconfig"}
    assert facts.dtbs == {"mps2-an385.dtb", "mps2-an399.dtb"}
    assert facts.syscall_table.read_text() == FILES["arch/arm/tools/syscall.tbl"]
    assert manifest(tree) == before
    assert not (tmp_path / "work" / "src").exists()  # nothing extracted or copied
