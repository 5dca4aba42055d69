"""Stream a QEMU `-d exec,cpu[,in_asm]` log into block counts and syscalls.

QEMU 7.2 prints a `Trace` line, then the CPU state on entry to that block
(R00..R15, XPSR); some newer QEMUs print the state first. Either way R15 in
the dump equals the pc in the Trace line's bracket field, so a dump is bound
to the Trace with the same pc, in the direction the file uses. A Trace with
no dump (an orphan) gets no R07 and takes none from its neighbours.

Speed: the file is read in large chunks and scanned by compiled regexes; only
the blocks at `vector_swi` need per-record work in Python. Nothing is loaded
whole, and a truncated last record or garbage lines are tolerated.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import KqualError

CHUNK = 16 << 20
PARALLEL_MIN = 64 << 20  # below this, starting workers costs more than it saves
MAX_ARM_SYSCALL = 511  # R07 above this is not a table syscall
ARM_PRIVATE_BASE = 0xF0000

_TRACE_PC = re.compile(rb"Trace \d+: 0x[0-9a-fA-F]+ \[[0-9a-fA-F]+/([0-9a-fA-F]+)/")


class TraceError(KqualError):
    pass


@dataclass
class RawTrace:
    """What one pass over a trace file yields, before symbolization."""

    blocks: int = 0
    pc_hits: Counter[int] = field(default_factory=Counter)  # first-seen order kept
    syscall_r7: list[int | None] = field(default_factory=list)  # per vector_swi block
    dump_first: bool = False

    @property
    def orphans(self) -> int:
        return sum(1 for r in self.syscall_r7 if r is None)


def _swi_pattern(swi_pc: int) -> re.Pattern[bytes]:
    """vector_swi's address as a bare literal: the regex engine then scans at
    memchr speed and only the few hits are looked at in Python."""
    return re.compile(f"{swi_pc:x}".encode())


_R07 = re.compile(rb"R07=([0-9a-fA-F]+)")


def _swi_events_in(buf, start: int, end: int, swi_re: re.Pattern[bytes]):
    """(kind, r7) for Trace lines at vector_swi and dumps with R15 = vector_swi."""
    events: list[tuple[str, int | None]] = []
    for m in swi_re.finditer(buf, start, end):
        i = m.start()
        if i + len(m[0]) < end and buf[i + len(m[0])] in _HEX:
            continue  # a longer number that merely starts with these digits
        j = i
        while j > start and buf[j - 1] == 0x30:  # leading zeros of a 16-digit field
            j -= 1
        if buf[j - 4 : j] == b"R15=":
            r07_at = buf.rfind(b"R07=", max(start, j - 200), j)
            r07 = _R07.match(buf, r07_at) if r07_at >= 0 else None
            if r07 is not None:
                events.append(("D", int(r07[1], 16)))
        elif buf[j - 1 : j] == b"/":
            # The pc field sits near the start of a Trace line: look back a little,
            # never to the window's start (long lines would make that quadratic).
            lo = max(start, j - _PC_FIELD_REACH)
            nl = buf.rfind(b"\n", lo, j)
            if nl < 0 and lo > start:
                continue  # too far into a line to be a Trace line's pc field
            line_start = nl + 1 if nl >= 0 else start
            if buf[line_start : line_start + 6] == b"Trace " and _is_pc_field(buf, line_start, j):
                events.append(("T", None))
    return events


_HEX = frozenset(b"0123456789abcdefABCDEF")
_PC_FIELD_REACH = 160  # "Trace 0: 0x<16 hex> [<8 or 16 hex>/" with room to spare


def _is_pc_field(buf, line_start: int, field_start: int) -> bool:
    """True when field_start begins the second bracket field of a Trace line."""
    bracket = buf.find(b"[", line_start, field_start)
    if bracket < 0:
        return False
    slash = buf.find(b"/", bracket, field_start)
    return slash == field_start - 1


def _dump_comes_first(head: bytes) -> bool:
    """Vote on the first records: does each dump match the Trace before or after it?"""
    after = before = 0
    last_pc = None
    pending_r15 = None
    for line in head.splitlines()[:20000]:
        if m := _TRACE_PC.match(line):
            pc = int(m[1], 16)
            if pending_r15 is not None:
                before += pending_r15 == pc
                pending_r15 = None
            last_pc = pc
        elif line.startswith(b"R12=") and b"R15=" in line:
            try:
                r15 = int(line.split(b"R15=")[1][:16].strip(), 16)
            except ValueError:
                continue
            after += r15 == last_pc
            pending_r15 = r15
    return before > after


def _bind(events: list[tuple[str, int | None]], dump_first: bool) -> list[int | None]:
    """One R07 (or None) per vector_swi Trace, in file order."""
    out: list[int | None] = []
    if dump_first:
        pending: int | None = None
        have = False
        for kind, r7 in events:
            if kind == "D":
                pending, have = r7, True
            else:
                out.append(pending if have else None)
                have = False
    else:
        open_trace = False
        for kind, r7 in events:
            if kind == "T":
                out.append(None)
                open_trace = True
            elif open_trace:
                out[-1] = r7
                open_trace = False
    return out


def _boundary(buf, lo: int, hi: int, forward: bool) -> int:
    """Offset of the newline before the last (or first) record start in [lo, hi)."""
    find = buf.find if forward else buf.rfind
    hits = [i for i in (find(b"\nTrace ", lo, hi), find(b"\nR00=", lo, hi)) if i >= 0]
    if not hits:
        return -1
    return min(hits) if forward else max(hits)


def _windows(buf, size: int):
    """(start, end) spans of about CHUNK bytes, each ending on a record boundary."""
    start = 0
    while start < size:
        end = min(size, start + CHUNK)
        if end < size:
            cut = _boundary(buf, start, end, forward=False)
            if cut <= start:  # one record longer than a window: run to its end
                cut = _boundary(buf, end, size, forward=True)
            end = cut + 1 if cut >= 0 else size
        yield start, end
        start = end


def _scan(path: Path, spans: list[tuple[int, int]], swi_pc: int):
    """Count Trace pcs and collect vector_swi events over some windows of a file."""
    swi_re = _swi_pattern(swi_pc)
    pcs: Counter[bytes] = Counter()
    events: list[tuple[str, int | None]] = []
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for start, end in spans:
            pcs.update(_TRACE_PC.findall(buf, start, end))
            events += _swi_events_in(buf, start, end, swi_re)
    return pcs, events


def parse_trace(path: Path, swi_pc: int, jobs: int | None = None) -> RawTrace:
    """One streaming pass over `path`. swi_pc is vector_swi's entry, Thumb bit clear.

    The file is memory-mapped and scanned window by window, so pages stream
    through the page cache and nothing is read into Python whole. A large file
    is split into contiguous runs of windows, one per core, and the partial
    counts are merged in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"trace file {path} does not exist")
    swi_pc &= ~1
    raw = RawTrace()
    pcs: Counter[bytes] = Counter()
    events: list[tuple[str, int | None]] = []
    size = path.stat().st_size
    if size:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            raw.dump_first = _dump_comes_first(buf[: min(size, 4 << 20)])
            spans = list(_windows(buf, size))
        jobs = jobs or min(4, len(os.sched_getaffinity(0)))
        if size < PARALLEL_MIN or jobs < 2 or len(spans) < 2:
            pcs, events = _scan(path, spans, swi_pc)
        else:
            per = -(-len(spans) // jobs)
            runs = [spans[i : i + per] for i in range(0, len(spans), per)]
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(len(runs), mp_context=ctx) as pool:
                for part_pcs, part_events in pool.map(
                    _scan, [path] * len(runs), runs, [swi_pc] * len(runs)
                ):
                    pcs.update(part_pcs)  # first-seen order: earlier runs come first
                    events += part_events
    for pc_text, n in pcs.items():
        raw.pc_hits[int(pc_text, 16)] += n
    raw.blocks = sum(pcs.values())
    if raw.blocks == 0:
        raise TraceError(
            f"{path} holds no Trace records: was QEMU run with '-d exec,cpu' and '-D {path.name}'?"
        )
    raw.syscall_r7 = _bind(events, raw.dump_first)
    with open(path, "rb") as f:
        f.seek(max(0, size - 4096))
        cut = truncation(f.read(), raw.dump_first)
    if cut:
        raise TraceError(
            f"{path} is truncated: {cut}. QEMU was probably killed while tracing, or the "
            "disk filled up; trace again"
        )
    return raw


def truncation(tail: bytes, dump_first: bool) -> str | None:
    """Why the end of a trace is not the end of a whole record, or None."""
    if not tail.endswith(b"\n"):
        return "its last line has no newline"
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    last_trace = max((i for i, ln in enumerate(lines) if ln.startswith(b"Trace ")), default=None)
    if last_trace is None:
        return None
    if dump_first:
        return None  # each dump precedes its Trace line: a Trace line ends a record
    after = lines[last_trace + 1 :]
    if not after or not after[0].startswith(b"R00="):
        return None  # a trace without register dumps (-d exec alone)
    if not any(b"PSR=" in ln for ln in after):
        return "the register dump of its last record is cut short"
    return None


def classify(r7: int) -> str:
    if r7 <= MAX_ARM_SYSCALL:
        return "table"
    if r7 >= ARM_PRIVATE_BASE:
        return "private"
    return "invalid"
