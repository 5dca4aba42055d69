"""What vmlinux is linked from: its objects (vmlinux.a, a thin archive) and the
symbols each defines, read with the target's binutils."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ..core.runner import capture


def vmlinux_objects(build: Path, prefix: str) -> list[str]:
    """Objects linked into vmlinux (vmlinux.a is a thin archive), relative to the build."""
    return capture([f"{prefix}ar", "t", "vmlinux.a"], cwd=build).split()


def object_symbols(
    build: Path, objects: list[str], prefix: str
) -> dict[str, list[tuple[str, str, int]]]:
    """object -> (name, nm type, size) of what it defines, from one nm over all of them."""
    out: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    text = capture([f"{prefix}nm", "--defined-only", "-S", "-A", *objects], cwd=build)
    for line in text.splitlines():
        where, _, rest = line.partition(": ") if ": " in line else line.partition(":")
        fields = rest.split()
        if len(fields) != 4:
            continue  # no size: labels, absolute symbols
        _addr, size, kind, name = fields
        out[where].append((name, kind, int(size, 16)))
    return out


def vmlinux_names(vmlinux: Path, prefix: str) -> set[str]:
    text = capture([f"{prefix}nm", "--defined-only", vmlinux])
    return {parts[2] for parts in (ln.split() for ln in text.splitlines()) if len(parts) == 3}


def vmlinux_symbols(vmlinux: Path, prefix: str) -> list[tuple[str, str, int]]:
    """(name, nm type, size) of each sized symbol vmlinux defines, in address order."""
    text = capture([f"{prefix}nm", "--defined-only", "-S", "-n", vmlinux])
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4:
            out.append((fields[3], fields[2], int(fields[1], 16)))
    return out
