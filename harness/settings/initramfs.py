"""The initramfs description (configs/userspace/initramfs.yaml): directories,
device nodes, links and small files, checked before anything is built."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from .schema import bind, load_yaml


@dataclass
class Node:
    path: str
    type: str
    major: int = field(metadata={"min": 0})
    minor: int = field(metadata={"min": 0})
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

    @property
    def paths(self) -> set[str]:
        """Every path the image will hold."""
        return {*self.dirs, *(n.path for n in self.nodes), self.busybox, *self.links, *self.files}


# gen_init_cpio reads one entry per line, fields split at blanks: a path is
# absolute, without blanks, and names no "." or ".." component.
_PATH = re.compile(r"/[^\s]*")
_MODE = re.compile(r"0?[0-7]{3}|[0-7]{4}")


def _line(node: Any, key: object = None, index: int | None = None) -> int | None:
    if index is not None:
        return (getattr(node, "item_lines", None) or [None] * (index + 1))[index]
    if key is not None:
        return getattr(node, "key_lines", {}).get(key, getattr(node, "line", None))
    return getattr(node, "line", None)


def load_spec(path: Path, nodes_only: bool = False) -> InitramfsSpec:
    """`nodes_only`: the target brings its own root filesystem, and this file
    adds the device nodes to it (what a rootfs made without root cannot hold)."""
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(
            path, getattr(data, "line", None), "expected a mapping (dirs, nodes, ...)"
        )
    if nodes_only:
        for key in data:
            if key != "nodes":
                raise ConfigError(
                    path,
                    _line(data, key),
                    f"'{key}': the target names its own root filesystem (userspace.rootfs), "
                    "which brings its files; this description may list only 'nodes'. "
                    "Move it into the root filesystem, or point userspace.initramfs at a "
                    "file of nodes",
                )
    spec = bind(InitramfsSpec, data, path)

    def check_path(p: str, where: str, line: int | None) -> None:
        parts = p.split("/")[1:]
        bad_part = p != "/" and any(c in ("", ".", "..") for c in parts)
        if not _PATH.fullmatch(p) or bad_part:
            raise ConfigError(
                path,
                line,
                f"{where} {p!r}: write an absolute path without blanks, '.' or '..' "
                "components (gen_init_cpio splits its lines at blanks)",
            )

    def check_mode(raw: Any, where: str, line: int | None) -> None:
        if raw is None:
            return
        if not isinstance(raw, str):
            raise ConfigError(
                path,
                line,
                f'{where} mode {raw!r}: quote it ("0755"); YAML reads 0755 unquoted as '
                "the number 493",
            )
        if not _MODE.fullmatch(raw):
            raise ConfigError(path, line, f'{where} mode {raw!r} is not an octal mode like "0755"')

    for i, d in enumerate(spec.dirs):
        check_path(d, "dirs entry", _line(data.get("dirs"), index=i))
    raw_nodes = data.get("nodes") or []
    for i, n in enumerate(spec.nodes):
        line = _line(raw_nodes, index=i)
        check_path(n.path, "node", line)
        if n.type not in ("c", "b"):
            raise ConfigError(path, line, f"node {n.path}: type must be 'c' or 'b', not {n.type!r}")
        check_mode(raw_nodes[i].get("mode"), f"node {n.path}", line)
    check_path(spec.busybox, "'busybox'", _line(data, "busybox"))
    links = data.get("links") or {}
    for name, to in spec.links.items():
        check_path(name, "link", _line(links, name))
        if not to or re.search(r"\s", to):  # a link's target may be relative
            raise ConfigError(
                path, _line(links, name), f"link {name} -> {to!r}: a target without blanks"
            )
    files = data.get("files") or {}
    for name in spec.files:
        check_path(name, "file", _line(files, name))
        check_mode((files[name] or {}).get("mode"), f"file {name}", _line(files, name))
    return spec
