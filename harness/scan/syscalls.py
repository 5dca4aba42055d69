"""Every syscall number an ARM/Thumb-2 static (PIE) binary can make.

A trace says what one workload used; this says what the userspace may use,
so a pruned table never removes a call that an ordinary command needs.
For each `svc` the value of r7 is followed within its function
(harness/thumb_flow.py). Where r7 is one of the function's arguments
(musl's `syscall()`, `__syscall_cp` and what they tail into), the function is
a gateway and the number is resolved at each of its call sites, through
gateways of gateways. What cannot be resolved is listed, never dropped:
the scan then says it is incomplete.

python -m harness.syscall_scan ELF [ELF ...] [--syscall-table TBL] [--json]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core import jsonfile
from ..core.errors import KqualError
from ..core.fingerprint import sha256_file
from ..kernel.syscall_table import syscall_names
from .arm_image import Image, NotThumbElfError, svc_instructions
from .thumb_flow import Function, analyze_image

# ARM private syscalls (arch/arm/include/uapi/asm/unistd.h): not table entries.
ARM_PRIVATE_BASE = 0xF0000
ARM_PRIVATE = {
    0xF0001: "ARM_breakpoint",
    0xF0002: "ARM_cacheflush",
    0xF0003: "ARM_usr26",
    0xF0004: "ARM_usr32",
    0xF0005: "ARM_set_tls",
    0xF0006: "ARM_get_tls",
}


MAX_CALLERS = 4


@dataclass(frozen=True)
class Site:
    """Where a number is set: the `svc` itself, or a call into a gateway."""

    binary: str
    function: str
    address: str
    via: str | None = None  # the gateway called here
    callers: tuple[str, ...] = ()  # functions that call `function`, the wrapper's users


@dataclass(frozen=True)
class Unresolved:
    binary: str
    function: str
    address: str
    why: str


@dataclass
class BinaryScan:
    path: str
    sha256: str
    symbols: bool
    functions: int
    svc_sites: int
    gateways: list[str]


@dataclass
class ScanResult:
    binaries: list[BinaryScan] = field(default_factory=list)
    sites: dict[int, set[Site]] = field(default_factory=dict)
    unresolved: set[Unresolved] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        return not self.unresolved

    @property
    def numbers(self) -> set[int]:
        """Table syscall numbers (ARM private calls are not in the table)."""
        return {n for n in self.sites if n < ARM_PRIVATE_BASE}

    def functions_calling(self, nr: int) -> list[str]:
        """`function@binary`, with the wrapper's own callers when there are any."""
        out = set()
        for s in self.sites.get(nr, ()):
            users = f" (from {', '.join(s.callers)})" if s.callers else ""
            out.add(f"{s.function}@{Path(s.binary).name}{users}")
        return sorted(out)

    def as_json(self, names: dict[int, str] | None = None) -> dict:
        names = names or {}

        def entry(nr: int) -> dict:
            sites = sorted(self.sites[nr], key=lambda s: (s.binary, int(s.address, 16)))
            return {
                "number": nr,
                "name": ARM_PRIVATE.get(nr) or names.get(nr),
                "sites": [asdict(s) for s in sites],
            }

        table = sorted(self.numbers)
        return {
            "complete": self.complete,
            "binaries": [asdict(b) for b in self.binaries],
            "count": len(table),
            "syscalls": [entry(n) for n in table],
            "arm_private": [entry(n) for n in sorted(set(self.sites) - self.numbers)],
            "not_in_table": [n for n in table if names and n not in names],
            "unresolved": [
                asdict(u) for u in sorted(self.unresolved, key=lambda u: (u.binary, u.address))
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> ScanResult:
        out = cls(binaries=[BinaryScan(**b) for b in data["binaries"]])
        for e in [*data["syscalls"], *data["arm_private"]]:
            out.sites[e["number"]] = {
                Site(**(s | {"callers": tuple(s.get("callers", ()))})) for s in e["sites"]
            }
        out.unresolved = {Unresolved(**u) for u in data["unresolved"]}
        return out


class _BinaryScanner:
    def __init__(self, path: Path, result: ScanResult, label: str | None = None) -> None:
        self.image = Image.load(path)
        self.label = label or str(path)
        self.result = result
        self.funcs = analyze_image(self.image)
        self.callers: dict[int, list[tuple[Function, int, object]]] = {}
        for fn in self.funcs.values():
            for c in fn.calls:
                self.callers.setdefault(c.target, []).append((fn, c.address, c.state))
        self.taken = self.image.code_pointers().union(
            *(fn.addresses_taken for fn in self.funcs.values())
        )

    def _hex(self, addr: int) -> str:
        return f"0x{addr:x}"

    def _unresolved(self, fn: Function, addr: int, why: str) -> None:
        self.result.unresolved.add(Unresolved(self.label, fn.name, self._hex(addr), why))

    def _found(self, nr: int, fn: Function, addr: int, via: str | None = None) -> None:
        users = sorted({f.name for f, _, _ in self.callers.get(fn.start, ())})
        if len(users) > MAX_CALLERS:
            users = users[:MAX_CALLERS] + [f"{len(users) - MAX_CALLERS} more"]
        site = Site(self.label, fn.name, self._hex(addr), via, tuple(users))
        self.result.sites.setdefault(nr, set()).add(site)

    def scan(self) -> BinaryScan:
        gateways: dict[tuple[int, int], None] = {}
        svc_addrs = set()
        for fn in self.funcs.values():
            for addr, what in fn.problems:
                self._unresolved(fn, addr, f"{what}: code past it is not scanned")
            for svc in fn.svcs:
                svc_addrs.add(svc.address)
                if svc.r7 is None:
                    self._unresolved(fn, svc.address, "r7 is not a constant here")
                    continue
                for kind, x in sorted(svc.r7):
                    if kind == "c":
                        self._found(x, fn, svc.address)
                    elif kind == "a":
                        gateways[(fn.start, x)] = None
                    else:
                        self._unresolved(fn, svc.address, "r7 holds an address")
        if self.image.mapping:  # exact code ranges: nothing may go unseen
            for addr in sorted(svc_instructions(self.image) - svc_addrs):
                fn = self._function_at(addr)
                self._unresolved(fn, addr, "svc not reached from any function entry")
        self._resolve_gateways(gateways)
        names = sorted({self.image.name_of(g) for g, _ in gateways})
        return BinaryScan(
            self.label,
            sha256_file(self.image.path),
            self.image.has_symbols,
            len(self.funcs),
            len(svc_addrs),
            names,
        )

    def _function_at(self, addr: int) -> Function:
        start = max((f for f in self.image.functions if f <= addr), default=addr)
        return self.funcs.get(start) or Function(start, self.image.name_of(start))

    def _resolve_gateways(self, gateways: dict[tuple[int, int], None]) -> None:
        """Resolve each gateway's number argument at its call sites, to a fixpoint."""
        work = list(gateways)
        while work:
            start, k = work.pop()
            gw = self.funcs[start]
            if start in self.taken:
                self._unresolved(
                    gw,
                    start,
                    f"{gw.name} takes the syscall number as argument {k} and its address "
                    "is taken: indirect calls cannot be followed",
                )
            for caller, addr, state in self.callers.get(start, []):
                v = state.arg(k)  # type: ignore[attr-defined]
                if v is None:
                    self._unresolved(
                        caller, addr, f"argument {k} of {gw.name} (the syscall number) unknown"
                    )
                    continue
                for kind, x in sorted(v):
                    if kind == "c":
                        self._found(x, caller, addr, gw.name)
                    elif kind == "a" and (caller.start, x) not in gateways:
                        gateways[(caller.start, x)] = None
                        work.append((caller.start, x))
                    elif kind != "a":
                        self._unresolved(
                            caller, addr, f"argument {k} of {gw.name} holds an address"
                        )


UNREADABLE = "(whole binary)"  # the function of an Unresolved that stands for a binary


def scan(
    paths: list[Path], labels: list[str] | None = None, unreadable_blocks: bool = False
) -> ScanResult:
    """The syscalls `paths` can make. `unreadable_blocks`: a binary that cannot be
    read as a Thumb program (another architecture, cut short) does not stop the
    scan; it makes it incomplete, named, so nothing is pruned on its word."""
    result = ScanResult()
    for i, p in enumerate(paths):
        label = labels[i] if labels else None
        try:
            scanner = _BinaryScanner(Path(p), result, label)
        except NotThumbElfError as e:
            if not unreadable_blocks:
                raise
            name = label or str(p)
            result.unresolved.add(Unresolved(name, UNREADABLE, "-", f"not scanned: {e}"))
            result.binaries.append(BinaryScan(name, sha256_file(Path(p)), False, 0, 0, []))
            continue
        result.binaries.append(scanner.scan())
    return result


def render(result: ScanResult, names: dict[int, str]) -> str:
    data = result.as_json(names)
    lines = [
        f"{len(data['syscalls'])} syscall numbers reachable from "
        f"{', '.join(b['path'] for b in data['binaries'])}"
        + ("" if result.complete else f"; INCOMPLETE: {len(result.unresolved)} unresolved sites"),
        "",
    ]
    for e in [*data["syscalls"], *data["arm_private"]]:
        fns = sorted({s["function"] for s in e["sites"]})
        more = f" (+{len(fns) - 4} more)" if len(fns) > 4 else ""
        lines.append(f"{e['number']:>7} {e['name'] or '?':<24} {', '.join(fns[:4])}{more}")
    for u in data["unresolved"]:
        lines.append(f"unresolved {u['binary']}:{u['function']}@{u['address']}: {u['why']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m harness.syscall_scan",
        description="List every syscall number ARM/Thumb-2 static (PIE) binaries can make.",
    )
    ap.add_argument("elf", type=Path, nargs="+", help="ELF binaries to scan")
    ap.add_argument(
        "--syscall-table", type=Path, default=None, help="the kernel's syscall.tbl, for names"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument(
        "--strict", action="store_true", help="exit 1 when a site could not be resolved"
    )
    args = ap.parse_args(argv)
    try:
        names = syscall_names(args.syscall_table) if args.syscall_table else {}
        result = scan(args.elf)
    except (KqualError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(jsonfile.dumps("syscall-scan", result.as_json(names)))
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(result, names))
    if not result.complete:
        print(
            f"warning: {len(result.unresolved)} syscall sites could not be resolved; "
            "the set is incomplete",
            file=sys.stderr,
        )
        return 1 if args.strict else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
