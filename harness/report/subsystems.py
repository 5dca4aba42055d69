"""vmlinux's bytes by subsystem: each symbol's size rolled up by the source folder
of the object that defines it (`kernel`, `kernel/sched`).

Per-section figures say that .text grew; a maintainer asks which part of the
tree grew it. kbuild's thin archive vmlinux.a names every object linked in,
so each symbol of vmlinux is matched to the object defining it by name (a
static name several objects define goes to the first of them, in link order,
of the same size). What no object defines (kallsyms tables, the linker's
own) is `unattributed`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..kernel.objects import object_symbols, vmlinux_objects, vmlinux_symbols


@dataclass
class Subsystems:
    folders: dict[str, int] = field(default_factory=dict)  # "kernel", "kernel/sched", ...
    unattributed: int = 0

    def as_json(self) -> dict[str, object]:
        return {"folders": dict(sorted(self.folders.items())), "unattributed": self.unattributed}

    @classmethod
    def from_json(cls, data: dict) -> Subsystems:
        folders = data.get("folders")
        if not isinstance(folders, dict) or not all(
            isinstance(k, str) and isinstance(v, int) for k, v in folders.items()
        ):
            raise ValueError("'folders' must map folder names to byte counts")
        return cls(dict(folders), int(data.get("unattributed", 0)))


def folder_of(obj: str, depth: int) -> str:
    """The object's source folder cut to `depth` parts ('kernel/sched/core.o', 1: 'kernel')."""
    parts = PurePosixPath(obj).parent.parts or (".",)
    return "/".join(parts[:depth])


def attribute(
    symbols: list[tuple[str, str, int]],
    objects: list[str],
    defined: dict[str, list[tuple[str, str, int]]],
) -> tuple[dict[str, int], int]:
    """object -> bytes of vmlinux's `symbols` it defines, and the bytes no object defines."""
    where: dict[str, deque[tuple[str, int]]] = defaultdict(deque)
    for obj in objects:  # link order
        for name, _kind, size in defined.get(obj, []):
            where[name].append((obj, size))
    per_object: dict[str, int] = defaultdict(int)
    unattributed = 0
    for name, _kind, size in symbols:
        owners = where.get(name)
        if not owners:
            unattributed += size
            continue
        match = next((o for o in owners if o[1] == size), owners[0])
        owners.remove(match)
        per_object[match[0]] += size
    return dict(per_object), unattributed


def rollup(per_object: dict[str, int], unattributed: int = 0) -> Subsystems:
    """Folders at depths 1 and 2 (`kernel` counts all of `kernel/sched`)."""
    folders: dict[str, int] = defaultdict(int)
    for obj, size in per_object.items():
        top, second = folder_of(obj, 1), folder_of(obj, 2)
        folders[top] += size
        if second != top:
            folders[second] += size
    return Subsystems(dict(folders), unattributed)


def depth_view(subs: Subsystems, depth: int) -> dict[str, int]:
    """Every byte once at this depth: at depth 2, a top folder's own objects
    (`fs/namei.o`) are `fs/*`, or `io_uring` when it has no subfolders."""
    if depth == 1:
        return {k: v for k, v in subs.folders.items() if "/" not in k}
    out = {k: v for k, v in subs.folders.items() if "/" in k}
    for top, size in subs.folders.items():
        if "/" in top:
            continue
        inner = [k for k in out if k.startswith(top + "/")]
        own = size - sum(out[k] for k in inner)
        if own or not inner:  # its own objects (fs/namei.o): `fs/*` beside fs/proc
            out[f"{top}/*" if inner else top] = own
    return out


def subsystem_sizes(build: Path, vmlinux: Path, prefix: str) -> Subsystems:
    """The rollup of a finished build folder."""
    objects = vmlinux_objects(build, prefix)
    per_object, unattributed = attribute(
        vmlinux_symbols(vmlinux, prefix), objects, object_symbols(build, objects, prefix)
    )
    return rollup(per_object, unattributed)
