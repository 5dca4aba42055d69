"""Command line: analyse one QEMU trace against a vmlinux.

python -m harness.trace TRACE --vmlinux VMLINUX [--syscall-table TBL] [--json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core import jsonfile
from ..core.errors import KqualError
from ..kernel.syscall_table import syscall_names
from .analysis import Profile, analyze, write_outputs
from .parser import parse_trace
from .symbols import SymbolTable

SWI_SYMBOL = "vector_swi"


def analyze_trace(trace: Path, symtab: SymbolTable, table: Path | None) -> Profile:
    """Parse and analyse one trace: the single path the CLI and the cache share."""
    raw = parse_trace(trace, symtab.address(SWI_SYMBOL))
    return analyze(raw, symtab, syscall_names(table))


def profile_trace(trace: Path, vmlinux: Path, table: Path | None) -> Profile:
    return analyze_trace(trace, SymbolTable.from_vmlinux(vmlinux), table)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.trace", description=__doc__.strip())
    ap.add_argument("trace", type=Path)
    ap.add_argument("--vmlinux", type=Path, required=True)
    ap.add_argument("--syscall-table", type=Path, default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--out", type=Path, default=None, help="write profile files here")
    args = ap.parse_args(argv)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        print(f"error: --out {args.out} is a file; give a folder (it is created)", file=sys.stderr)
        return 2
    try:
        profile = profile_trace(args.trace, args.vmlinux, args.syscall_table)
        if args.out:
            write_outputs(profile, args.out)
    except KqualError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
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
