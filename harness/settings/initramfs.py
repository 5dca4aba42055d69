"""The initramfs description (configs/userspace/initramfs.yaml): directories,
device nodes, links and small files, checked before anything is built."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ConfigError
from .schema import load


@dataclass
class Node:
    path: str
    type: str
    major: int
    minor: int
    mode: str = "0600"


@dataclass
class TextFile:
    text: str
    mode: str = "0644"


@dataclass
class InitramfsSpec:
    dirs: list[str] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    busybox: str = "/bin/busybox"
    links: dict[str, str] = field(default_factory=dict)
    files: dict[str, TextFile] = field(default_factory=dict)


def load_spec(path: Path) -> InitramfsSpec:
    spec = load(InitramfsSpec, path)
    for p in [*spec.dirs, *(n.path for n in spec.nodes), *spec.links, *spec.files]:
        if not p.startswith("/"):
            raise ConfigError(path, None, f"path '{p}' must be absolute")
    for n in spec.nodes:
        if n.type not in ("c", "b"):
            raise ConfigError(path, None, f"node {n.path}: type must be 'c' or 'b', not {n.type!r}")
    return spec
