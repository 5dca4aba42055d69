"""What a change cost, and where: one image's figures against another's.

CI keeps the results folder of the last good run; `kqual compare OLD NEW`
reads two of them (or two cycles' summaries, each standing for the image it
selected) and says where the bytes went: per section, per subsystem (the
source folder of each symbol's object, at two depths), per symbol (the
kernel's bloat-o-meter), per config option and per syscall, and what guest
boot time and memory did. Everything comes from files a run leaves in
results/, so the build folders may be gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..core import jsonfile
from ..core.errors import KqualError
from ..kernel.kconfig import parse_config
from .bloat import Bloat
from .image_sizes import ImageSizes, read_sizes
from .results import CandidateRecord, read_record
from .subsystems import depth_view
from .summary import SECTION_COLUMNS

TOP = 15


class CompareError(KqualError):
    """A side of the comparison is not a results folder kqual can read."""


@dataclass
class Side:
    label: str  # "<cycle>/<candidate>"
    folder: Path
    record: CandidateRecord
    sizes: ImageSizes | None
    config: dict[str, str]


@dataclass
class Row:
    name: str
    old: int | float | None
    new: int | float | None

    @property
    def delta(self) -> int | float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old


@dataclass
class Comparison:
    old: str
    new: str
    image: list[Row] = field(default_factory=list)  # linux.axf, resident, time, memory
    sections: list[Row] = field(default_factory=list)
    subsystems: dict[int, list[Row]] = field(default_factory=dict)  # depth -> top rows
    symbols: Bloat | None = None
    options: list[tuple[str, str, str]] = field(default_factory=list)  # name, old, new
    syscalls: list[tuple[str, str, str]] = field(default_factory=list)  # name, old, new state
    notes: list[str] = field(default_factory=list)  # what could not be compared, and why
    top: int = TOP  # rows of the subsystem and symbol tables

    def as_json(self) -> dict[str, Any]:
        def rows(rs: list[Row]) -> list[dict[str, Any]]:
            return [{**asdict(r), "delta": r.delta} for r in rs]

        return {
            "old": self.old,
            "new": self.new,
            "image": rows(self.image),
            "sections": rows(self.sections),
            "subsystems": {str(d): rows(rs) for d, rs in self.subsystems.items()},
            "symbols": asdict(self.symbols) if self.symbols else None,
            "options": [{"option": n, "old": o, "new": v} for n, o, v in self.options],
            "syscalls": [{"syscall": n, "old": o, "new": v} for n, o, v in self.syscalls],
            "notes": self.notes,
        }


def side(path: Path) -> Side:
    """A candidate's results folder, or a cycle's folder or summary.json (its selection)."""
    folder = path
    if path.is_file() and path.name == "summary.json":
        folder = path.parent
    if not (folder / "result.json").is_file() and (folder / "summary.json").is_file():
        data = jsonfile.loads("summary", (folder / "summary.json").read_text())
        selected = (data or {}).get("selected")
        if not isinstance(selected, str) or not selected:
            raise CompareError(
                f"{folder}/summary.json selects no candidate: give a candidate's folder instead"
            )
        folder = folder / selected
    record = read_record(folder)
    if record is None:
        raise CompareError(
            f"{path}: neither a candidate's results folder (with a readable result.json) "
            "nor a cycle's (with summary.json)"
        )
    config_path = folder / "kernel.config"
    config = parse_config(config_path) if config_path.is_file() else {}
    cycle = record.get("cycle") or folder.parent.name
    return Side(f"{cycle}/{folder.name}", folder, record, read_sizes(folder), config)


def _resident(s: Side) -> int | None:
    if s.record.kernel_resident_bytes is not None:
        return s.record.kernel_resident_bytes
    return s.sizes.resident_bytes if s.sizes else None


def _top(old: dict[str, int], new: dict[str, int], top: int) -> list[Row]:
    rows = [Row(k, old.get(k, 0), new.get(k, 0)) for k in sorted(set(old) | set(new))]
    rows = [r for r in rows if r.delta]
    rows.sort(key=lambda r: (-abs(r.delta or 0), r.name))
    return rows[:top]


def compare(
    old: Side, new: Side, bloat: Callable[[Path, Path], Bloat] | None = None, top: int = TOP
) -> Comparison:
    c = Comparison(old.label, new.label, top=top)
    o, n = old.record, new.record
    c.image = [
        Row("linux.axf bytes", o.linux_axf_bytes, n.linux_axf_bytes),
        Row("kernel resident bytes", _resident(old), _resident(new)),
        Row("guest shell-ready ms", o.guest_shell_ready_ms, n.guest_shell_ready_ms),
        Row("MemAvailable bytes", o.mem_available_bytes, n.mem_available_bytes),
        Row("MemFree bytes", o.mem_free_bytes, n.mem_free_bytes),
    ]
    c.sections = [Row(k, o.sections.get(k), n.sections.get(k)) for k in SECTION_COLUMNS]
    if old.sizes and new.sizes:
        for depth in (1, 2):
            c.subsystems[depth] = _top(
                depth_view(old.sizes.subsystems, depth),
                depth_view(new.sizes.subsystems, depth),
                top,
            )
        c.syscalls = [
            (name, old.sizes.syscalls.get(name, "-"), new.sizes.syscalls.get(name, "-"))
            for name in sorted(set(old.sizes.syscalls) | set(new.sizes.syscalls))
            if old.sizes.syscalls.get(name) != new.sizes.syscalls.get(name)
        ]
    else:
        missing = [s.label for s in (old, new) if s.sizes is None]
        c.notes.append(
            f"no sizes.json for {', '.join(missing)} (a run of an older kqual): "
            "no subsystems or syscalls"
        )
    if old.config and new.config:
        c.options = [
            (k, old.config.get(k, "-"), new.config.get(k, "-"))
            for k in sorted(set(old.config) | set(new.config))
            if old.config.get(k, "n") != new.config.get(k, "n")
        ]
    else:
        c.notes.append("no kernel.config on both sides: no option changes")
    vmlinux = (old.folder / "vmlinux", new.folder / "vmlinux")
    if bloat is not None and all(v.is_file() for v in vmlinux):
        c.symbols = bloat(*vmlinux)
    elif bloat is not None:
        c.notes.append("no vmlinux on both sides: no symbol deltas")
    return c


def _num(v: int | float | None, signed: bool = False) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:+.3f}" if signed else f"{v:.3f}"
    return f"{v:+,}" if signed else f"{v:,}"


def _table(title: str, rows: list[Row], md: bool) -> list[str]:
    if not rows:
        return []
    if md:
        out = [f"**{title}**", "", "| | old | new | delta |", "|---|---:|---:|---:|"]
        out += [
            f"| `{r.name}` | {_num(r.old)} | {_num(r.new)} | {_num(r.delta, True)} |" for r in rows
        ]
        return out + [""]
    w = max(len(r.name) for r in rows) + 2
    out = [title, f"  {'':<{w}}{'old':>14}{'new':>14}{'delta':>12}"]
    out += [
        f"  {r.name:<{w}}{_num(r.old):>14}{_num(r.new):>14}{_num(r.delta, True):>12}" for r in rows
    ]
    return out + [""]


def _pairs(
    title: str, head: tuple[str, str, str], rows: list[tuple[str, str, str]], md: bool
) -> list[str]:
    if not rows:
        return [f"{title}: no change", ""]
    if md:  # folded: a CI comment stays short
        out = [f"<details><summary>{title} ({len(rows)})</summary>", ""]
        out += [f"| {head[0]} | {head[1]} | {head[2]} |", "|---|---|---|"]
        return out + [f"| `{a}` | {b} | {c} |" for a, b, c in rows] + ["", "</details>", ""]
    w = max(len(a) for a, _, _ in rows) + 2
    return [f"{title} ({len(rows)})"] + [f"  {a:<{w}}{b} -> {c}" for a, b, c in rows] + [""]


def render(c: Comparison, markdown: bool = False) -> str:
    md = markdown
    out = [
        f"### kqual compare: `{c.old}` → `{c.new}`" if md else f"kqual compare: {c.old} -> {c.new}",
        "",
    ]
    out += _table("image", c.image, md)
    out += _table("sections (bytes)", c.sections, md)
    for depth, rows in c.subsystems.items():
        out += _table(f"subsystems at depth {depth} (top {len(rows)} by change)", rows, md)
    if c.symbols is not None:
        rows = [Row(name, old, new) for name, old, new, _ in c.symbols.deltas[: c.top]]
        out += _table(f"symbols (bloat-o-meter: {c.symbols.header})", rows, md)
    out += _pairs("config options", ("option", "old", "new"), c.options, md)
    out += _pairs("syscalls", ("syscall", "old", "new"), c.syscalls, md)
    out += [f"note: {n}" for n in c.notes]
    return "\n".join(out).rstrip() + "\n"


def dumps(c: Comparison) -> str:
    return jsonfile.dumps("compare", c.as_json())
