"""Bytes and runtime use per Kconfig option: the objects it builds, what they
put in vmlinux, and whether any of their functions ran in the workload."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..kernel.objects import object_symbols, vmlinux_names, vmlinux_objects
from ..trace.symbols import SymbolTable
from .kbuild_map import KbuildMap

_FUNC_TYPES = frozenset("tTwW")


@dataclass
class Footprint:
    option: str
    bytes: int = 0  # symbol sizes in vmlinux of what its objects define
    objects: list[str] = field(default_factory=list)
    functions: int = 0
    ran: list[str] = field(default_factory=list)  # functions with hits outside .init


def footprints(
    build: Path, kmap: KbuildMap, symtab: SymbolTable, hits: dict[str, int], prefix: str
) -> dict[str, Footprint]:
    """Per option: what its objects weigh in this vmlinux and whether they ran."""
    in_vmlinux = {f.name: f for f in symtab.functions}
    data_names = vmlinux_names(build / "vmlinux", prefix)
    objects = vmlinux_objects(build, prefix)
    syms = object_symbols(build, objects, prefix)
    defined_in: dict[str, int] = defaultdict(int)
    for entries in syms.values():
        for name, *_ in entries:
            defined_in[name] += 1
    out: dict[str, Footprint] = {}
    for obj in objects:
        option = kmap.option_of(obj)
        if option is None:
            continue
        fp = out.setdefault(option, Footprint(option))
        fp.objects.append(obj)
        for name, kind, size in syms.get(obj, []):
            if name not in data_names:
                continue  # dropped by dead-code elimination
            fp.bytes += size
            if kind in _FUNC_TYPES:
                fp.functions += 1
                f = in_vmlinux.get(name)
                # A name several objects define (static inlines) cannot say whose ran.
                unique = defined_in[name] == 1
                if unique and hits.get(name) and not (f is not None and f.is_init):
                    fp.ran.append(name)
    return out
