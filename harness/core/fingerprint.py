"""Content fingerprints of the inputs that shape a build stage.

A fingerprint is a sha256 over named parts (files, folder trees, tool
versions, literal strings). Folder trees hash relative paths and contents, so
moving the checkout does not change the fingerprint; editing a byte does.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .runner import capture

HARNESS = Path(__file__).resolve().parent.parent  # the harness package


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@cache
def tool_version(tool: str) -> str:
    """First line of `tool --version`, the part of a toolchain that shapes output."""
    return capture([tool, "--version"]).splitlines()[0].strip()


@dataclass
class Fingerprint:
    """Accumulates parts; `digest` is stable for equal inputs."""

    parts: dict[str, str] = field(default_factory=dict)

    def add_text(self, name: str, text: str) -> Fingerprint:
        self.parts[name] = hashlib.sha256(text.encode()).hexdigest()
        return self

    def add_file(self, name: str, path: Path) -> Fingerprint:
        self.parts[name] = sha256_file(path) if path.exists() else "absent"
        return self

    def add_tree(self, name: str, root: Path, pattern: str = "*") -> Fingerprint:
        h = hashlib.sha256()
        if root.is_dir():
            for p in sorted(root.rglob(pattern)):
                if p.is_file() and "__pycache__" not in p.parts:
                    h.update(p.relative_to(root).as_posix().encode() + b"\0")
                    h.update(sha256_file(p).encode())
        elif root.is_file():
            h.update(sha256_file(root).encode())
        self.parts[name] = h.hexdigest()
        return self

    def add_tool(self, tool: str) -> Fingerprint:
        self.parts[f"tool:{tool}"] = tool_version(tool)
        return self

    def add_code(
        self, *modules: str, follow: tuple[str, ...] = (), root: Path | None = None
    ) -> Fingerprint:
        """The harness modules that shape this output, with what they import from
        the packages of `follow` (default: their own)."""
        top = root or HARNESS
        for path in harness_modules(*modules, follow=follow, root=root):
            self.add_file("harness/" + path.relative_to(top).as_posix(), path)
        return self

    def add(self, name: str, other: Fingerprint) -> Fingerprint:
        self.parts[name] = other.digest
        return self

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for k in sorted(self.parts):
            h.update(f"{k}={self.parts[k]}\n".encode())
        return h.hexdigest()

    @property
    def short(self) -> str:
        return self.digest[:16]


def harness_modules(
    *names: str, follow: tuple[str, ...] = (), root: Path | None = None
) -> list[Path]:
    """The harness modules that `names` import, transitively, themselves included.

    Names are dotted from the harness package ("image.kernel_build"). What
    shapes a stage's output is the code it runs: deriving the list from the
    imports means a new helper module can never be left out of a key. Imports
    are followed into the packages of `follow` only (default: those of the
    named modules): a settings schema or a command-line wrapper shapes no
    output, and editing one must not invalidate every build or cached trace.
    """
    top = root or HARNESS
    packages = set(follow) or {n.split(".")[0] for n in names}
    for name in names:
        if _module_file(top, name) is None:
            raise ValueError(f"no module harness.{name}: a stage key must name code that exists")
    seen: dict[str, Path] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        path = _module_file(top, name)
        if name in seen or path is None:
            continue
        seen[name] = path
        package = name.rsplit(".", 1)[0] if "." in name else ""
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join([*base, *(node.module.split(".") if node.module else [])])
                for alias in node.names:
                    sub = f"{prefix}.{alias.name}" if prefix else alias.name
                    found = sub if _module_file(top, sub) else prefix
                    if found.split(".")[0] in packages:
                        todo.append(found)
    return [seen[k] for k in sorted(seen)]


def _module_file(top: Path, dotted: str) -> Path | None:
    if not dotted:
        return None
    base = top.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def code_fingerprint(
    *names: str, follow: tuple[str, ...] = (), root: Path | None = None
) -> Fingerprint:
    return Fingerprint().add_code(*names, follow=follow, root=root)
