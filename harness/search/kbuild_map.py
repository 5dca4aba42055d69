"""Which Kconfig option builds each object of vmlinux, read from the kernel's
Makefiles (`obj-$(CONFIG_X) += foo.o`, composite `foo-$(CONFIG_Y) += bar.o`,
`ifdef CONFIG_X` blocks, and directories `obj-$(CONFIG_X) += dir/`), the way
Cozart maps a trace to options without a patched QEMU.

The nearest condition wins: an object listed under `obj-y` in a directory
that the parent enters with `obj-$(CONFIG_X) += dir/` belongs to X.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_ASSIGN = re.compile(r"^([A-Za-z0-9_.-]+?)-(y|objs|\$\(CONFIG_([A-Za-z0-9_]+)\))\s*[:+]?=\s*(.*)$")
_COND = re.compile(
    r"^(ifdef|ifndef|ifeq|ifneq)\s*(?:\(\s*\$\(CONFIG_([A-Za-z0-9_]+)\)\s*,\s*(y?)\s*\)|CONFIG_([A-Za-z0-9_]+))"
)
_SKIP_DIRS = ("Documentation", "tools", "scripts", "samples", "usr", "debian")


@dataclass(frozen=True)
class Entry:
    option: str | None  # None: built whenever its directory is (obj-y)
    composite: str | None = None  # the composite object this part is linked into


class KbuildMap:
    def __init__(self) -> None:
        self.objects: dict[str, list[Entry]] = {}  # "kernel/time/foo.o" -> how it is listed
        self.dirs: dict[str, str | None] = {}  # "drivers/leds/" -> option entering it

    @classmethod
    def from_tree(cls, srctree: Path, arch: str) -> KbuildMap:
        kmap = cls()
        for path in sorted([*srctree.rglob("Makefile"), *srctree.rglob("Kbuild")]):
            rel = path.parent.relative_to(srctree)
            top = rel.parts[0] if rel.parts else ""
            if top in _SKIP_DIRS or (top == "arch" and len(rel.parts) > 1 and rel.parts[1] != arch):
                continue
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            kmap.add_makefile(str(rel) if rel.parts else "", text)
        return kmap

    def add_makefile(self, folder: str, text: str) -> None:
        prefix = f"{folder}/" if folder else ""
        conds: list[str | None] = []
        for line in _logical_lines(text):
            if m := _COND.match(line):
                option = m[2] or m[4]
                positive = m[1] in ("ifdef",) or (m[1] == "ifeq" and m[3] == "y")
                positive = positive or (m[1] == "ifneq" and m[3] == "")
                conds.append(option if positive else None)
                continue
            if re.match(r"^if(n?def|n?eq)\b", line):
                conds.append(None)
                continue
            if line.startswith("else") and conds:
                conds[-1] = None
                continue
            if line.startswith("endif") and conds:
                conds.pop()
                continue
            m = _ASSIGN.match(line)
            if not m:
                continue
            name, kind, option, items = m[1], m[2], m[3], m[4].split()
            option = option or next((c for c in reversed(conds) if c), None)
            for item in items:
                if "$" in item or item.startswith("-"):
                    continue
                if name == "obj":
                    if item.endswith("/"):
                        self.dirs.setdefault(_norm(prefix + item) + "/", option)
                    elif item.endswith(".o"):
                        self.objects.setdefault(_norm(prefix + item), []).append(Entry(option))
                elif kind in ("y", "objs") or option:
                    if item.endswith(".o"):
                        part = _norm(prefix + item)
                        composite = _norm(prefix + name + ".o")
                        if part != composite:
                            self.objects.setdefault(part, []).append(Entry(option, composite))

    def option_of(self, obj: str, depth: int = 0) -> str | None:
        """The nearest option that decides whether `obj` is built, or None (always built)."""
        if depth > 8:
            return None
        for entry in self.objects.get(obj, []):
            if entry.option:
                return entry.option
            if entry.composite:
                found = self.option_of(entry.composite, depth + 1)
                if found:
                    return found
        folder = PurePosixPath(obj).parent
        while str(folder) not in (".", ""):
            key = f"{folder}/"
            if self.dirs.get(key):
                return self.dirs[key]
            folder = folder.parent
        return None


def _norm(path: str) -> str:
    return str(PurePosixPath(path))


def _logical_lines(text: str):
    """Lines with backslash continuations joined and comments dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield (pending + line).strip()
        pending = ""
    if pending:
        yield pending.strip()


_CONFIG_START = re.compile(r"^\s*(?:menu)?config\s+(\w+)\s*$")
_PROMPT = re.compile(r'^\s*(?:(?:bool|tristate|int|hex|string)\s+"|prompt\s+")')
_BLOCK_END = re.compile(
    r"^\s*(?:(?:menu)?config|choice|endchoice|menu|endmenu|if|endif|source|comment)\b"
)


def prompted_options(srctree: Path) -> set[str]:
    """Options a user can set (they have a prompt); others follow their selectors."""
    out: set[str] = set()
    for path in srctree.rglob("Kconfig*"):
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        current = None
        for line in lines:
            if m := _CONFIG_START.match(line):
                current = m[1]
            elif _BLOCK_END.match(line):
                current = None
            elif current and _PROMPT.match(line):
                out.add(current)
                current = None
    return out
