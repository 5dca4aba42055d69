"""Guest time before the kernel's clock: instructions from reset to the kernel's entry.

printk stamps start at time_init, so whatever runs before the kernel (the boot
wrapper, a zImage's decompressor) is invisible in them. Under -icount shift=0
one instruction is one nanosecond of guest time, so the instructions executed
before the entry are that time, exactly and on every boot. They are counted
from a QEMU log of `-d in_asm,exec,nochain`, restricted with -dfilter to where
the pre-kernel code runs: in_asm gives each block's instructions when it is
translated, exec each run of a block (nochain, or chained runs go unlogged).
Under -icount a block that touches a device before its end is rewound there
(`cpu_io_recompile: rewound execution of TB to ADDR`): its run counts only the
instructions before ADDR, and the rest runs again as a new block.

Reading the board's free-running counter at a gdb stop on the entry does not
work for this: with sleep=off the virtual clock jumps at the stop (171.8 s on
QEMU 7.2), with sleep=on it varies between boots.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..core.errors import KqualError

_EXEC = re.compile(r"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")
_INSN = re.compile(r"^0x([0-9a-f]+):\s")
_REWIND = re.compile(r"^cpu_io_recompile: rewound execution of TB to ([0-9a-f]+)")


@dataclass(frozen=True)
class EntryCost:
    instructions: int  # executed in the logged range
    blocks: int  # block runs logged
    reached: bool = False  # the log got to the block it was to stop at

    @property
    def guest_ms(self) -> float:
        """The guest time under -icount shift=0 (one instruction, one ns)."""
        return self.instructions / 1e6


def executed_instructions(lines: Iterable[str], until: int | None = None) -> EntryCost:
    """Sum, over every logged run of a block, the instructions of that block as
    last translated before the run (a block translated again replaces the old),
    less what a rewind says the run did not execute; up to the first run of the
    block at `until` (the kernel's entry), which is not counted."""
    blocks: dict[int, list[int]] = {}  # block start -> its instructions' addresses
    current: int | None = None
    last: list[int] | None = None  # the instructions of the block that ran last
    total = runs = 0
    for n, line in enumerate(lines, 1):
        if line.startswith("Trace "):
            current = None
            m = _EXEC.match(line)
            if m is None:
                raise KqualError(f"line {n} of the QEMU log is no exec record: {line.strip()!r}")
            pc = int(m.group(1), 16)
            if pc == until:
                return EntryCost(total, runs, reached=True)
            if pc not in blocks:
                raise KqualError(
                    f"line {n}: the block at {pc:#x} ran but was never translated in this "
                    "log: log `-d in_asm,exec,nochain` over the same -dfilter range"
                )
            last = blocks[pc]
            total += len(last)
            runs += 1
        elif line.startswith("IN:"):
            current = None
        elif (r := _REWIND.match(line)) is not None:
            at = int(r.group(1), 16)
            if last is None or at not in last:
                raise KqualError(
                    f"line {n}: a rewind to {at:#x}, which is in no block that ran before it"
                )
            total -= sum(1 for a in last if a >= at)
            last = None
        elif (m := _INSN.match(line)) is not None:
            if current is None:
                current = int(m.group(1), 16)
                blocks[current] = []
            blocks[current].append(int(m.group(1), 16))
    return EntryCost(total, runs)
