"""`kqual init`: a starter project in a folder of the user's own.

A project is a folder holding configs/cycles.yaml. pytest run there collects
kqual's cycle tests (pytest.ini names them), reads the project's inputs, and
keeps work/ and results/ in that folder. A relative path in a project's file
names the project's file when it has one, else kqual's own of that name, so a
target that `extends: an385` inherits our fragments and patches until the
user brings theirs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .core.paths import ROOT

PYTEST_INI = """\
# A kqual project: `pytest -k syscall_prune` here qualifies the candidates of
# configs/cycles.yaml on configs/target.yaml, with work/ and results/ in this
# folder. kqual's cycle tests come from the checkout kqual is installed from.
[pytest]
testpaths = {tests}
kqual_cycle_tests = {tests}
norecursedirs = work results .* venv
addopts = -ra
junit_family = xunit1
"""

TARGET = """\
# Your board and kernel. It starts as kqual's MPS2 AN385 target ({boards}/an385.yaml)
# and states only what differs; uncomment and edit. Relative paths name a file
# of this project, else kqual's own of that name.
extends: an385
# results/<name>/ and work/build/<name>/ keep each target apart.
name: my-board
# toolchain_prefix: arm-none-eabi-     # or /opt/gcc-arm/bin/arm-none-linux-gnueabihf-
# kernel:
#   source: /usr/src/linux-source-6.12.tar.xz   # a tarball, or your tree (a folder, git or not):
#                                               # kqual never writes into it
#   defconfig: mps2_defconfig
#   fragments: [configs/kernel/size.config, configs/kernel/dce.config, configs/kernel/boot.config]
#   cmdline: earlycon
# userspace:
#   rootfs: rootfs/            # your root filesystem: a folder or an uncompressed newc cpio;
#                              # "" builds kqual's musl + BusyBox
#   initramfs: nodes.yaml      # with rootfs: only `nodes:` (the device nodes to add)
# boot:
#   marker: "Linux for Cortex-M"   # a line your init prints on the way up
#   prompt: "/ # "
"""

CYCLES_HEAD = """\
# Your cycles. This starter is kqual's syscall_prune cycle ({configs}/cycles.yaml
# has the others: size_search, pgo). Defaults are in kqual's
# harness/settings/cycles.py; a cycle states only what differs.
"""

WORKLOAD_HEAD = """\
# Your workload: what every candidate must still do at its shell. This starter
# is kqual's own ({configs}/workload.yaml), which runs every applet of kqual's
# BusyBox; replace it with the commands your image's users run.
"""

README = """\
A kqual project. Run the cycle: pytest -k syscall_prune
Results: results/<target name>/syscall_prune/summary.txt (the selected linux.axf in selected/)
"""


def _cycle_section(text: str, name: str) -> str:
    """One cycle of kqual's cycles file, with its comments, as a file of its own."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{name}:")
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"  \S", lines[i])), len(lines))
    return "cycles:\n" + "\n".join(lines[start:end]).rstrip() + "\n"


def starter_files() -> dict[str, str]:
    configs = ROOT / "configs"
    workload = (configs / "workload.yaml").read_text()
    return {
        "pytest.ini": PYTEST_INI.format(tests=ROOT / "test_cycles"),
        "configs/target.yaml": TARGET.format(boards=configs / "boards"),
        "configs/cycles.yaml": CYCLES_HEAD.format(configs=configs)
        + _cycle_section((configs / "cycles.yaml").read_text(), "syscall_prune"),
        "configs/workload.yaml": WORKLOAD_HEAD.format(configs=configs) + workload,
        "README.kqual": README,
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="kqual init",
        description="Write a starter kqual project (target, cycles, workload, pytest.ini) "
        "into FOLDER; nothing there is overwritten.",
    )
    ap.add_argument("folder", type=Path, nargs="?", default=Path.cwd())
    args = ap.parse_args(argv)
    if not (ROOT / "test_cycles").is_dir():
        print(
            f"error: kqual's cycle tests are not at {ROOT / 'test_cycles'}: install kqual "
            "from its checkout with `pip install -e <checkout>`",
            file=sys.stderr,
        )
        return 2
    folder: Path = args.folder.resolve()
    if folder == ROOT or ROOT in folder.parents:
        msg = f"error: {folder} is inside kqual's checkout: init a folder of your own"
        print(msg, file=sys.stderr)
        return 2
    files = starter_files()
    there = [name for name in files if (folder / name).exists()]
    if there:
        print(f"error: {folder} already has {', '.join(there)}: nothing written", file=sys.stderr)
        return 2
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    print(f"next: cd {folder} && pytest -k syscall_prune")
    return 0
