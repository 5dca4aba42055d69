"""Command line: analyse one QEMU trace against a vmlinux.

python -m harness.trace TRACE --vmlinux VMLINUX [--syscall-table TBL] [--json] [--strict]

A trace whose last record is cut (QEMU killed, or a sample cut with head) is
analysed up to its last complete record, says so on stderr and is marked
`truncated`; --strict refuses it, as a cycle does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core import jsonfile
from ..core.errors import KqualError
from ..kernel.syscall_table import syscall_names
from .analysis import Profile, analyze, write_outputs
from .parser import RawTrace, TraceError, parse_trace
from .symbols import SymbolTable

SWI_SYMBOL = "vector_swi"


def analyze_trace(
    trace: Path, symtab: SymbolTable, table: Path | None, strict: bool = True
) -> Profile:
    """Parse and analyse one trace: the single path the CLI and the cache share."""
    raw = parse_trace(trace, symtab.address(SWI_SYMBOL), strict=strict)
    check_same_image(trace, raw, symtab)
    return analyze(raw, symtab, syscall_names(table))


def profile_trace(trace: Path, vmlinux: Path, table: Path | None, strict: bool = True) -> Profile:
    return analyze_trace(trace, SymbolTable.from_vmlinux(vmlinux), table, strict)


# Of the blocks a trace ran inside the vmlinux's image, the share that may
# start outside every function of it before the trace is called another
# image's (a few assembly entry points carry no function symbol).
FOREIGN_SHARE = 0.01


def check_same_image(trace: Path, raw: RawTrace, symtab: SymbolTable) -> None:
    """The trace ran this vmlinux: its blocks inside its text start in its functions.

    A trace of another build runs code where this one has data, padding or
    nothing: such blocks give it away, unless both happen to share layout.
    """
    lo, hi = symtab.text_span
    inside = [(pc, n) for pc, n in raw.pc_hits.items() if lo <= pc < hi]
    found = symtab.lookup_many([pc for pc, _ in inside])
    foreign = [(pc, n) for (pc, n), f in zip(inside, found, strict=True) if f is None]
    total = sum(n for _, n in inside)
    ran = sum(n for _, n in foreign)
    if foreign and ran > FOREIGN_SHARE * total:
        raise TraceError(
            f"{trace} does not come from this vmlinux: {ran} of its {total} blocks inside "
            f"its text ({lo:#x}..{hi:#x}) start in no function of it (first at "
            f"{foreign[0][0]:#x}). Give the vmlinux of the image that was traced"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.trace", description=__doc__.strip())
    ap.add_argument("trace", type=Path)
    ap.add_argument("--vmlinux", type=Path, required=True)
    ap.add_argument("--syscall-table", type=Path, default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--out", type=Path, default=None, help="write profile files here")
    ap.add_argument("--strict", action="store_true", help="refuse a trace whose last record is cut")
    args = ap.parse_args(argv)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        print(f"error: --out {args.out} is a file; give a folder (it is created)", file=sys.stderr)
        return 2
    try:
        profile = profile_trace(args.trace, args.vmlinux, args.syscall_table, args.strict)
        if args.out:
            write_outputs(profile, args.out)
    except KqualError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    if profile.truncated:
        print(f"warning: {args.trace} is truncated: {profile.truncated}", file=sys.stderr)
    if args.json:
        sys.stdout.write(jsonfile.dumps("profile", profile.as_json(), indent=None))  # one write
    else:
        sys.stdout.write(
            (args.out / "summary.txt").read_text()
            if args.out
            else f"blocks {profile.blocks}, matched {profile.matched}, "
            f"syscalls {sum(profile.syscalls.values())}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
