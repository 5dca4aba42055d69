"""The guest time a self-decompressing image spends before the kernel runs.

A zImage's decompressor runs before the kernel's clock starts, so the printk
stamp of the shell-ready line leaves it out; a smaller image that boots slower
would look free. Its time is counted once per image from a QEMU log of every
block that ran outside the kernel's Image (harness/boot/entry_cost.py), up to
the first run of the kernel's entry. The figure is the same on every boot,
so it is measured once per image fingerprint and kept in the build folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from ..core import jsonfile
from ..core.errors import KqualError
from ..core.fingerprint import Fingerprint
from ..core.progress import say
from ..core.publish import write_atomic
from ..core.stage import Stage
from ..image.candidate import BuiltCandidate
from ..settings.target import Target
from .entry_cost import executed_instructions
from .qemu import QemuOptions, QemuSession

FIRST_LINE = r"Booting Linux|Linux version"  # the kernel ran: the decompressor is done
RECORD = "pre-kernel.json"
FOLDER = "kqual-pre-kernel"  # in the build folder, next to kqual-wrap


@dataclass(frozen=True)
class PreKernel:
    instructions: int
    blocks: int
    entry: int  # the kernel's entry, where counting stopped

    @property
    def guest_ms(self) -> float:
        return self.instructions / 1e6  # -icount shift=0: one instruction, one ns

    def as_json(self) -> dict:
        return {
            "instructions": self.instructions,
            "blocks": self.blocks,
            "entry": self.entry,
            "guest_ms": self.guest_ms,
        }


def measure_pre_kernel(
    target: Target, axf: Path, kernel_start: int, kernel_bytes: int, out_dir: Path
) -> PreKernel:
    """Count what runs from reset to the kernel's first instruction at kernel_start;
    the kernel's own code (kernel_start + kernel_bytes) stays out of the log."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "pre-kernel.qemu.log"
    console = out_dir / "pre-kernel.console.log"
    end = kernel_start + kernel_bytes
    # The entry block itself is logged, so the count can stop there.
    ranges = f"0x0..{kernel_start:#x},{end:#x}..0xffffffff"
    opts = QemuOptions(icount=True, debug="in_asm,exec,nochain", debug_file=log, dfilter=ranges)
    say(f"{axf}: counting the decompressor's instructions (QEMU log under {out_dir})")
    try:
        with QemuSession(target, axf, console, opts) as s:
            s.expect(FIRST_LINE, target.boot.boot_timeout_s, "the kernel's first line")
        with open(log, errors="replace") as lines:
            cost = executed_instructions(lines, until=kernel_start)
    finally:
        log.unlink(missing_ok=True)  # hundreds of MB for a slow decompressor
    if not cost.reached:
        raise KqualError(
            f"{axf}: the QEMU log of the boot ends before the kernel's entry at "
            f"{kernel_start:#x} (the kernel printed its first line, so the log was cut "
            f"short): see {console}; rerun, and report it if it repeats"
        )
    found = PreKernel(cost.instructions, cost.blocks, kernel_start)
    write_atomic(out_dir / RECORD, jsonfile.dumps("pre-kernel", found.as_json()))
    say(f"{axf}: {found.instructions:,} instructions before the kernel ({found.guest_ms:.3f} ms)")
    return found


def recorded_pre_kernel(out_dir: Path) -> PreKernel:
    """What measure_pre_kernel() found for the wrapped image in out_dir."""
    path = out_dir / RECORD
    data = jsonfile.loads("pre-kernel", path.read_text())
    if data is None:
        raise KqualError(f"{path} was written by another kqual version: delete {out_dir}")
    return PreKernel(int(data["instructions"]), int(data["blocks"]), int(data["entry"]))


def pre_kernel_of(target: Target, built: BuiltCandidate) -> PreKernel:
    """The zImage's pre-kernel time, measured once per image: the lock keeps two
    xdist workers that share a build folder from measuring it twice."""
    folder = built.kernel.folder / FOLDER
    fp = Fingerprint().add("image", built.fingerprint).add_code("boot.pre_kernel")
    stage = Stage(f"pre-kernel {built.spec.name}", folder, fp, [folder / RECORD])
    with FileLock(str(folder) + ".lock"):
        if stage.begin():
            size = built.kernel.image.stat().st_size
            measure_pre_kernel(target, built.axf, target.memory.load_address, size, folder)
            stage.done()
        return recorded_pre_kernel(folder)
