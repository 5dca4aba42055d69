"""Where boot time goes: per-initcall guest durations and the boot's phases,
from one boot under -icount with `initcall_debug`.

bootgraph.py and `initcall_debug` are used by hand, on wall time, with
noise. Under -icount every boot of an image runs the same instructions, so
each initcall's `after N usecs` is the same on every boot, and the difference
between two images says exactly which initcalls made one slower.

The boot gets its own linux.axf, the same kernel with `initcall_debug
loglevel=8 initramfs_async=0` added to the command line: the lines must
reach the console (a shrunk log buffer cannot hold them for dmesg), and the
initramfs is unpacked inside its initcall (populate_rootfs) instead of
beside the others, so its time is its own. The printing makes this boot
slower than the measured one; the durations leave the printing out (the
kernel stamps `calling` before it takes the initcall's start time).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..core import jsonfile
from ..core.errors import KqualError
from ..core.publish import write_atomic

DEBUG_ARGS = "initcall_debug loglevel=8 initramfs_async=0"
UNPACK = "populate_rootfs"  # rootfs_initcall: unpacks the built-in initramfs
INIT = "Run /init as init process"
PHASES = ("decompress", "kernel_start", "initcalls", "unpack_initramfs", "kernel_tail", "init")

_STAMP = r"\[\s*(\d+)\.(\d{6})\] "
_CALLING = re.compile(_STAMP + r"calling  (\S+?)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)? @ \d+")
_RETURNED = re.compile(
    _STAMP + r"initcall (\S+?)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)? returned (-?\d+) after (\d+) usecs"
)
_INIT = re.compile(_STAMP + re.escape(INIT))


class InitcallError(KqualError):
    """The boot's console does not carry the initcall_debug lines."""


@dataclass(frozen=True)
class Initcall:
    name: str  # the function, or its address when the kernel has no kallsyms and no map says
    start_ms: float  # the printk stamp of its `calling` line
    usecs: int
    returned: int = 0


@dataclass
class Timeline:
    initcalls: list[Initcall] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # ms, in PHASES order

    def as_json(self) -> dict[str, Any]:
        return {"initcalls": [asdict(i) for i in self.initcalls], "phases": self.phases}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timeline:
        calls = [Initcall(**c) for c in data["initcalls"]]
        phases = {str(k): float(v) for k, v in data["phases"].items()}
        return cls(calls, phases)

    def usecs(self) -> dict[str, int]:
        """Per initcall name, its microseconds (a name run twice: summed)."""
        out: dict[str, int] = {}
        for c in self.initcalls:
            out[c.name] = out.get(c.name, 0) + c.usecs
        return out

    def top(self, n: int = 10) -> list[Initcall]:
        return sorted(self.initcalls, key=lambda c: (-c.usecs, c.name))[:n]


def _ms(m: re.Match[str]) -> float:
    return int(m[1]) * 1000 + int(m[2]) / 1000


def _name(raw: str, symbols: dict[int, str]) -> str:
    """`foo` as kallsyms prints it, or 0x21012345 (no kallsyms) named from the map;
    a function pointer carries the Thumb bit."""
    if raw.startswith("0x"):
        return symbols.get(int(raw, 16) & ~1, raw)
    return raw


def parse_initcalls(text: str, symbols: dict[int, str] | None = None) -> list[Initcall]:
    """The initcalls in the order they ran; a call whose return is missing (the
    boot was cut short) is an error, not a zero."""
    symbols = symbols or {}
    out: list[Initcall] = []
    pending: dict[str, float] = {}
    for line in text.splitlines():
        if m := _CALLING.search(line):
            pending[m[3]] = _ms(m)
        elif m := _RETURNED.search(line):
            start = pending.pop(m[3], None)
            if start is None:
                raise InitcallError(f"'initcall {m[3]} returned' without its 'calling' line")
            out.append(Initcall(_name(m[3], symbols), start, int(m[5]), int(m[4])))
    if pending:
        raise InitcallError(
            f"{', '.join(sorted(pending))}: called but never returned (a cut-short boot?)"
        )
    if not out:
        raise InitcallError(
            "no initcall_debug lines on the console: does the command line carry "
            f"'{DEBUG_ARGS}', and the kernel CONFIG_PRINTK_TIME?"
        )
    return out


def timeline(
    text: str, ready_ms: float, pre_kernel_ms: float = 0.0, symbols: dict[int, str] | None = None
) -> Timeline:
    """The initcalls and the phases between reset and the shell (ms): the
    decompressor, the kernel up to its first initcall, the initcalls (the
    initramfs's unpacking apart), what follows them, and /init to the shell."""
    calls = parse_initcalls(text, symbols)
    init = _INIT.search(text)
    if init is None:
        raise InitcallError(f"no '{INIT}' line: the kernel did not start init")
    first = calls[0].start_ms
    last_end = max(c.start_ms + c.usecs / 1000 for c in calls)
    unpack = sum(c.usecs for c in calls if c.name == UNPACK) / 1000
    phases = {
        "decompress": pre_kernel_ms,
        "kernel_start": first,
        "initcalls": last_end - first - unpack,
        "unpack_initramfs": unpack,
        "kernel_tail": _ms(init) - last_end,
        "init": ready_ms - _ms(init),
    }
    return Timeline(calls, {k: round(v, 3) for k, v in phases.items()})


@dataclass(frozen=True)
class Growth:
    name: str
    base_usecs: int
    usecs: int

    @property
    def delta(self) -> int:
        return self.usecs - self.base_usecs


def growth(base: Timeline, mine: Timeline, n: int = 8) -> tuple[list[Growth], dict[str, float]]:
    """The initcalls that grew most, and each phase's change (ms)."""
    b, m = base.usecs(), mine.usecs()
    rows = [Growth(k, b.get(k, 0), m.get(k, 0)) for k in set(b) | set(m)]
    grew = sorted((r for r in rows if r.delta > 0), key=lambda r: (-r.delta, r.name))[:n]
    phases = {
        k: round(mine.phases.get(k, 0.0) - base.phases.get(k, 0.0), 3)
        for k in PHASES
        if k in mine.phases or k in base.phases
    }
    return grew, phases


def explain(base: Timeline, mine: Timeline) -> str:
    """One line: the phases that grew and the initcalls behind them."""
    grew, phases = growth(base, mine)
    parts = [f"{k} {v * 1000:+,.0f} us" for k, v in phases.items() if v > 0.0005]
    calls = [f"{g.name} {g.delta:+,} us" for g in grew[:5]]
    text = "phases grew: " + (", ".join(parts) or "none")
    return text + ("; initcalls grew: " + ", ".join(calls) if calls else "")


TIMELINE_FILE = "initcalls.json"


def write_timeline(folder: Path, run_id: str, image: str, tl: Timeline) -> None:
    data = {"run_id": run_id, "image_fingerprint": image, **tl.as_json()}
    write_atomic(folder / TIMELINE_FILE, jsonfile.dumps("initcalls", data))


def read_timeline(
    folder: Path, run_id: str | None = None, image: str | None = None
) -> Timeline | None:
    """The folder's timeline, when it is of this run and image (when given)."""
    try:
        data = jsonfile.loads("initcalls", (folder / TIMELINE_FILE).read_text())
    except OSError:
        return None
    if data is None:
        return None
    if run_id is not None and data.get("run_id") != run_id:
        return None
    if image is not None and data.get("image_fingerprint") != image:
        return None
    try:
        return Timeline.from_json(data)
    except (KeyError, TypeError, ValueError):
        return None
