#!/usr/bin/env python3
"""A compressed kernel (zImage) against the plain Image, side by side in one run.

    python bench/kernel_compression.py BUILD_FOLDER [--methods lz4,gzip,xz]

BUILD_FOLDER is a finished kqual kernel build (work/build/<target>/k-...). Each
method builds in its own copy under work/bench/compression/: the plain Image
and one zImage per method, from the same .config apart from the compressor.
Make overrides of the original build (a pruned syscall table) are not
repeated, so the copies' Image can differ from the folder's; all rows come
from the same copies. Each image is wrapped and booted under -icount to the
shell. Its guest time is the printk stamp of the ready line plus the
instructions from reset to the kernel's entry, counted from a QEMU log
(harness/boot/entry_cost.py). printk time alone hides a decompressor.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.boot.entry_cost import executed_instructions  # noqa: E402
from harness.boot.qemu import QemuOptions, QemuSession, qemu_argv  # noqa: E402
from harness.core.paths import work_dir  # noqa: E402
from harness.image.bootwrap import wrap  # noqa: E402
from harness.settings.target import Target, load_target  # noqa: E402

METHODS = ("lz4", "lzo", "gzip", "xz", "lzma")
MIB = 1 << 20


def build(target: Target, tree: Path, folder: Path, method: str | None) -> Path:
    """The Image (method None) or the zImage of `method`, built in `folder`."""
    if method is not None:
        flags = [f"-d KERNEL_{m.upper()}" for m in METHODS] + [f"-e KERNEL_{method.upper()}"]
        args = " ".join(flags).split()
        subprocess.run(
            [tree / "scripts" / "config", "--file", folder / ".config", *args], check=True
        )
    make = ["make", "-C", tree, f"O={folder}", "ARCH=arm", f"CROSS_COMPILE={target.cross}", "-j2"]
    goal = "zImage" if method else "Image"
    with open(folder / f"bench-{goal}-{method}.log", "w") as log:
        subprocess.run([*make, "olddefconfig", goal], check=True, stdout=log, stderr=log)
    return folder / "arch" / "arm" / "boot" / goal


def entry_ms(target: Target, axf: Path, ranges: str, log: Path) -> float:
    """Guest ms from reset to the kernel's entry: instructions in `ranges`, until the
    kernel's first console line (QEMU is stopped there)."""
    opts = QemuOptions(icount=True, debug="in_asm,exec,nochain", debug_file=log, dfilter=ranges)
    with QemuSession(target, axf, log.with_suffix(".console"), opts) as s:
        s.expect(r"Booting Linux|Linux version", 60, "the kernel's first line")
    with open(log, errors="replace") as lines:
        return executed_instructions(lines).guest_ms


def ready_ms(target: Target, axf: Path, console: Path) -> float:
    with QemuSession(target, axf, console, QemuOptions(icount=True)) as s:
        ms = s.boot().guest_shell_ready_ms
    if ms is None:
        raise RuntimeError(f"no guest shell-ready stamp in {console}")
    return ms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("build", type=Path, help="a finished kqual kernel build folder")
    ap.add_argument("--methods", default="lz4,gzip,xz")
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        ap.error(f"unknown method(s) {bad}: choose from {', '.join(METHODS)}")
    target = load_target()
    tree = _tree_of(args.build)
    root = work_dir() / "bench" / "compression"
    rows = []
    for method in [None, *methods]:
        folder = root / (method or "image")
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(args.build, folder, symlinks=True)
        kernel = build(target, tree, folder, method)
        dtb = folder / "arch" / "arm" / "boot" / "dts" / target.kernel.dtb
        mem = target.memory
        image_bytes = (folder / "arch" / "arm" / "boot" / "Image").stat().st_size
        load = mem.load_address + (-(-image_bytes // MIB) * MIB if method else 0)
        t = dataclasses.replace(target, memory=dataclasses.replace(mem, load_address=load))
        axf = wrap(t, kernel, dtb, folder / "wrap", folder / "wrap" / "wrap.log")
        end = load + kernel.stat().st_size + MIB  # the decompressor's stack and heap follow it
        ranges = f"0x0..0x1000,{load:#x}..{end:#x}" if method else "0x0..0x1000"
        pre = entry_ms(target, axf, ranges, folder / "entry.qemu.log")
        (folder / "entry.qemu.log").unlink()  # hundreds of MB for a decompressor
        ready = ready_ms(target, axf, folder / "ready.console")
        rows.append((method or "Image", axf.stat().st_size, pre, ready))
    base_bytes, base_total = rows[0][1], rows[0][2] + rows[0][3]
    print(
        f"{'kernel':<8}{'linux.axf':>11}{'x Image':>9}{'entry ms':>10}{'printk ms':>10}"
        f"{'guest ms':>10}{'x Image':>9}"
    )
    for name, size, pre, ready in rows:
        print(
            f"{name:<8}{size:>11,}{size / base_bytes:>9.3f}{pre:>10.3f}{ready:>10.3f}"
            f"{pre + ready:>10.3f}{(pre + ready) / base_total:>9.3f}"
        )
    print(f"(argv of the last boot: {' '.join(qemu_argv(target, axf, QemuOptions(icount=True)))})")
    return 0


def _tree_of(build: Path) -> Path:
    """The source tree of an O= build folder, from the Makefile kbuild wrote there."""
    for line in (build / "Makefile").read_text().splitlines():
        if line.startswith("include ") and line.rstrip().endswith("/Makefile"):
            return Path(line.split(None, 1)[1]).parent
    raise SystemExit(f"{build}/Makefile names no source tree: is it a kernel O= build folder?")


if __name__ == "__main__":
    sys.exit(main())
