"""The `kqual` command: what people run outside pytest.

kqual trace     analyse a QEMU trace against a vmlinux (python -m harness.trace)
kqual syscalls  list the syscalls ARM binaries can make (python -m harness.syscall_scan)
kqual report    render a cycle's summary again from the result records
kqual compare   what a change cost, and where: two results folders side by side
kqual targets   list the target files
kqual init      write a starter project (target, cycles, workload) into a folder
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import init
from .core.errors import KqualError
from .core.paths import PROJECT_MARK, is_project, resolve, results_dir, set_project
from .report.bloat import bloat_tool
from .report.budget_check import figures
from .report.compare import TOP
from .report.compare import compare as run_compare
from .report.compare import dumps as compare_json
from .report.compare import render as compare_text
from .report.compare import side as compare_side
from .report.selection import build_summary, damaged_records, runs
from .report.summary import render
from .scan import syscalls as syscall_scan
from .settings.budget import load_budget
from .settings.cycles import load_cycles
from .settings.target import TARGETS, default_target_path, read_target
from .trace import cli as trace


def report(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="kqual report",
        description="Render each cycle's summary again from the result records "
        "(the newest run's), without selecting or writing anything.",
    )
    ap.add_argument(
        "results", type=Path, nargs="?", default=None, help="default: results/<default target>/"
    )
    ap.add_argument(
        "--cycles", type=Path, default=None, help="the cycles file (default: the project's)"
    )
    ap.add_argument("--cycle", default=None, help="only this cycle")
    args = ap.parse_args(argv)
    root = args.results or results_dir() / read_target(default_target_path()).name
    if not root.is_dir():
        print(f"error: {root} is not a results folder", file=sys.stderr)
        return 2
    args.cycles = args.cycles or resolve(PROJECT_MARK)
    cycles = load_cycles(args.cycles)
    if root.name in cycles and not args.cycle:  # a cycle's own folder was given
        root, args.cycle = root.parent, root.name
    if args.cycle and args.cycle not in cycles:
        print(f"error: no cycle '{args.cycle}' in {args.cycles}", file=sys.stderr)
        return 2
    shown, problems = 0, []
    for name, cycle in cycles.items():
        if args.cycle not in (None, name) or not (root / name).is_dir():
            continue
        shown += 1
        problems += damaged_records(cycle, root / name)
        complete = [
            s for r in runs(cycle, root / name) if (s := build_summary(cycle, root / name, r))
        ]
        for summary in complete:  # newest first
            sys.stdout.write(render(summary))
        if not complete:
            problems.append(
                f"cycle {name}: no run took every candidate through every step "
                f"(records of {len(runs(cycle, root / name))} run(s) under {root / name})"
            )
    if not shown:
        problems.append(f"no cycle's results under {root}")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    return 1 if problems else 0


def compare(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="kqual compare",
        description="Compare two images: sections, subsystems, symbols, options, syscalls, "
        "boot time and memory. OLD and NEW are candidates' results folders, or cycles' "
        "folders or summary.json files (each standing for the image it selected).",
    )
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    ap.add_argument(
        "--budget",
        type=Path,
        default=None,
        help="check NEW against this budget: exit 1 on a breach",
    )
    ap.add_argument("--top", type=int, default=TOP, help=f"rows per table (default {TOP})")
    ap.add_argument(
        "--no-symbols", action="store_true", help="skip bloat-o-meter (no kernel tree needed)"
    )
    args = ap.parse_args(argv)
    old, new = compare_side(args.old), compare_side(args.new)
    budget = load_budget(args.budget) if args.budget else None
    bloat = None if args.no_symbols else bloat_tool(read_target(default_target_path()))
    result = run_compare(old, new, bloat, max(1, args.top))
    if args.format == "json":
        sys.stdout.write(compare_json(result))
    else:
        sys.stdout.write(compare_text(result, markdown=args.format == "markdown"))
    if budget is None:
        return 0
    if new.sizes is None:
        print(
            f"error: {new.folder} has no sizes.json: the budget cannot be checked", file=sys.stderr
        )
        return 2
    over = False
    print(f"\nbudget {budget.path} on {new.label}:")
    for fig in figures(budget, new.sizes):
        print("  " + fig.line(str(budget.path)))
        over = over or fig.over
    return 1 if over else 0


def targets(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="kqual targets", description="List the target files.")
    ap.parse_args(argv)
    default = default_target_path()
    paths = [default, *sorted(TARGETS.glob("*.yaml"))]
    for path in dict.fromkeys(p.resolve() for p in paths if p.exists()):
        t = read_target(path)
        mark = "*" if path == default.resolve() else " "
        print(f"{mark} {t.name:<14} {t.qemu.machine:<12} {t.qemu.cpu:<11} {path}")
    return 0


COMMANDS = {
    "trace": trace.main,
    "syscalls": syscall_scan.main,
    "report": report,
    "compare": compare,
    "targets": targets,
    "init": init.main,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    set_project(Path.cwd() if is_project(Path.cwd()) else None)
    if command not in COMMANDS:
        print(
            f"kqual: unknown command '{command}' (one of: {', '.join(COMMANDS)})", file=sys.stderr
        )
        return 2
    try:
        return COMMANDS[command](rest)
    except KqualError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
