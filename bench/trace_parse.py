#!/usr/bin/env python3
"""Time kqual's trace parser against a plain line-by-line parser and grep.

    python bench/trace_parse.py TRACE --vmlinux VMLINUX

All three read the same file in one run, side by side; grep -c '^Trace' is
the I/O floor. Both parsers must agree on blocks and syscall numbers, or the
comparison means nothing. Get a trace with the `full` selector (see README).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.trace.parser import parse_trace  # noqa: E402
from harness.trace.symbols import SymbolTable  # noqa: E402


def plain_parse(path: Path, swi: int) -> tuple[int, Counter, Counter]:
    """The obvious parser: one line at a time, dump bound to the Trace before it."""
    blocks = 0
    pcs: Counter[int] = Counter()
    sys_nr: Counter[int] = Counter()
    pc = r7 = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("Trace "):
                try:
                    pc = int(line.split("[", 1)[1].split("/")[1], 16)
                except (IndexError, ValueError):
                    pc = None
                    continue
                blocks += 1
                pcs[pc] += 1
            elif line.startswith("R04="):
                r7 = int(line.split("R07=")[1][:8], 16)
            elif line.startswith("R12=") and pc == swi:
                if int(line.split("R15=")[1][:8], 16) == pc:
                    sys_nr[r7] += 1
                pc = None
    return blocks, pcs, sys_nr


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("trace", type=Path)
    ap.add_argument("--vmlinux", type=Path, required=True)
    args = ap.parse_args()
    swi = SymbolTable.from_vmlinux(args.vmlinux).address("vector_swi")
    size = args.trace.stat().st_size
    # Warm the page cache so the first contender is not charged for the disk.
    subprocess.run(["cat", str(args.trace)], stdout=subprocess.DEVNULL, check=True)
    t_grep, grep = timed(
        lambda: (
            subprocess.run(
                ["grep", "-c", "^Trace", str(args.trace)], capture_output=True, text=True
            ).stdout
        )
    )
    t_ours, raw = timed(lambda: parse_trace(args.trace, swi))
    # The command people run, end to end: interpreter start, symbols, parse, analysis.
    t_cli, cli = timed(
        lambda: subprocess.run(
            [sys.executable, "-m", "harness.trace", str(args.trace), "--vmlinux"]
            + [str(args.vmlinux), "--json"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
    )
    t_plain, (blocks, _, plain_sys) = timed(lambda: plain_parse(args.trace, swi))
    ours_sys = Counter(r for r in raw.syscall_r7 if r is not None)
    cli_sys = json.loads(cli.stdout)["syscalls"] if cli.returncode == 0 else {}
    agree = (
        raw.blocks == blocks == int(grep)
        and ours_sys == plain_sys
        and {int(k): v for k, v in cli_sys.items()}
        == {k: v for k, v in plain_sys.items() if k <= 511}
    )
    print(
        f"trace: {args.trace} ({size / 1e6:.0f} MB, {raw.blocks:,} blocks, "
        f"{sum(ours_sys.values())} syscalls)"
    )
    print(f"{'grep -c ^Trace':<22} {t_grep:7.2f} s  {size / t_grep / 1e6:7.0f} MB/s")
    print(f"{'kqual parse_trace':<22} {t_ours:7.2f} s  {size / t_ours / 1e6:7.0f} MB/s")
    print(f"{'plain line parser':<22} {t_plain:7.2f} s  {size / t_plain / 1e6:7.0f} MB/s")
    print(f"{'kqual trace (command)':<22} {t_cli:7.2f} s  {size / t_cli / 1e6:7.0f} MB/s")
    print(
        f"kqual parser vs plain: {t_plain / t_ours:.1f}x faster; "
        f"kqual vs grep floor: {t_ours / t_grep:.1f}x slower"
    )
    print(
        f"end to end, the trace command vs the plain parser: {t_plain / t_cli:.1f}x (goal >= 10x)"
    )
    print(f"results agree: {agree}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
