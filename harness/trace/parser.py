"""Stream a QEMU `-d exec,cpu[,in_asm]` log into block counts and syscalls.

QEMU 7.2 prints a `Trace` line, then the CPU state on entry to that block
(R00..R15, XPSR); some newer QEMUs print the state first. Either way R15 in
the dump equals the pc in the Trace line's bracket field, so a dump is bound
to the Trace with the same pc, in the direction the file uses. A Trace with
no dump (an orphan) gets no R07 and takes none from its neighbours.

Speed: one QEMU writes every Trace line of a file with the same field widths
(`[cs/pc/flags/cflags]`), so each line is found by its closing bracket and
its pc read at a fixed offset from it, with numpy over the whole window at
once. Only the few blocks at `vector_swi` get per-record work in Python.
Windows are read with readinto into one reused buffer, so nothing is loaded
whole; a truncated last record or garbage lines are tolerated.
"""

from __future__ import annotations

import mmap
import os
import pickle
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..core.errors import KqualError

CHUNK = 4 << 20  # small enough that a window stays in cache across its numpy passes
PARALLEL_MIN = 64 << 20  # below this, starting workers costs more than it saves
MAX_ARM_SYSCALL = 511  # R07 above this is not a table syscall
ARM_PRIVATE_BASE = 0xF0000
RECORD_REACH = 4096  # how far from its Trace line a block's register dump may sit

_TRACE_FIELDS = re.compile(
    rb"Trace \d+: 0x[0-9a-fA-F]+ \[([0-9a-fA-F]+)/([0-9a-fA-F]+)/([0-9a-fA-F]+)/([0-9a-fA-F]+)\]"
)
_HEX_RUN = re.compile(rb"[0-9a-fA-F]+")
_NIBBLE = np.full(256, 255, np.uint8)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)  # set in a byte that is no hex digit
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _NIBBLE[_c - 32 if _c >= 97 else _c] = _i


_T = TypeVar("_T")


class TraceError(KqualError):
    pass


@dataclass
class RawTrace:
    """What one pass over a trace file yields, before symbolization."""

    blocks: int = 0
    pc_hits: Counter[int] = field(default_factory=Counter)  # first-seen order kept
    syscall_r7: list[int | None] = field(default_factory=list)  # per vector_swi block
    dump_first: bool = False
    # Why the last record was incomplete and what was left out of the counts,
    # when the parse was not strict; None for a whole trace.
    truncated: str | None = None

    @property
    def orphans(self) -> int:
        return sum(1 for r in self.syscall_r7 if r is None)


@dataclass(frozen=True)
class Layout:
    """Where a Trace line's fields sit, counted back from its closing bracket."""

    widths: tuple[int, int, int, int]  # cs, pc, flags, cflags as this QEMU prints them

    @classmethod
    def of(cls, m: re.Match[bytes]) -> Layout:
        return cls(tuple(len(m[i]) for i in range(1, 5)))  # type: ignore[arg-type]

    @property
    def slashes(self) -> tuple[int, int, int]:
        _, pc, flags, cflags = self.widths
        third = cflags + 1
        return (third + flags + 1 + pc + 1, third + flags + 1, third)

    @property
    def bracket(self) -> int:
        return self.slashes[0] + self.widths[0] + 1

    @property
    def pc(self) -> int:
        """Offset back from `]` to the pc field's first digit."""
        return self.slashes[0] - 1


def _window_pcs(a: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """(offset of the pc field, pc) for every well-formed Trace line in `a`."""
    close = np.flatnonzero(a == ord("]"))
    close = close[close > layout.bracket]
    s1, s2, s3 = layout.slashes
    ok = (
        (a[close - layout.bracket] == ord("["))
        & (a[close - layout.bracket - 1] == ord(" "))
        & (a[close - s1] == ord("/"))
        & (a[close - s2] == ord("/"))
        & (a[close - s3] == ord("/"))
    )
    at = close[ok] - layout.pc
    width = layout.widths[1]
    if width in (8, 16):
        # Each pc field read as whole 8-byte words (an unaligned view), decoded
        # by table, checked all-hex by one mask per word, and packed by pairs.
        words = np.ndarray(buffer=a, dtype="<u8", shape=(max(0, len(a) - 7),), strides=(1,))
        parts = [
            _NIBBLE[words[at + k].view(np.uint8).reshape(len(at), 8)] for k in range(0, width, 8)
        ]
        nibbles = parts[0] if width == 8 else np.concatenate(parts, axis=1)
        hexed = ((nibbles.view("<u8") & _HIGH_NIBBLES) == 0).all(axis=1)
        at, nibbles = at[hexed], nibbles[hexed]
        packed = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2])
        return at, packed.view(f">u{width // 2}").ravel().astype(np.uint64)
    nibbles = _NIBBLE[sliding_window_view(a, width)[at]]
    hexed = nibbles.max(axis=1, initial=0) < 16
    at, nibbles = at[hexed], nibbles[hexed]
    shifts = np.arange(4 * (width - 1), -1, -4, dtype=np.uint64)
    pcs = (nibbles.astype(np.uint64) << shifts).sum(axis=1, dtype=np.uint64)
    return at, pcs


_Part = tuple[list[int], list[int], list[int]]  # pcs first-seen, their counts, swi offsets


class _Tally:
    """Block counts per pc, and the order pcs were first seen in.

    Each pc gets a slot (1, 2, ... in first-seen order). Slots of pcs inside
    one 16 MiB span (where the first window runs most, i.e. RAM with the
    kernel and the programs) are kept in a direct table, so a window costs
    one gather and one bincount; pcs outside it go through a dict.
    """

    SPAN = 1 << 24

    def __init__(self) -> None:
        self.base: int | None = None
        self.table = np.zeros(0, np.int32)
        self.outside: dict[int, int] = {}
        self.order: list[int] = []
        self.counts = np.zeros(1, np.int64)  # per slot; slot 0 is "not seen yet"

    def _slots(self, pcs: np.ndarray, off: np.ndarray, inside: np.ndarray) -> np.ndarray:
        slots = np.zeros(len(pcs), np.int32)
        slots[inside] = self.table[off[inside]]
        if not inside.all():
            slots[~inside] = [self.outside.get(pc, 0) for pc in pcs[~inside].tolist()]
        return slots

    def add(self, pcs: np.ndarray) -> None:
        if not len(pcs):
            return
        if self.base is None:
            self.base = int(np.median(pcs)) & ~(self.SPAN - 1)
            self.table = np.zeros(self.SPAN, np.int32)  # calloc'd: untouched pages cost nothing
        off = pcs - np.uint64(self.base)  # wraps around for pcs below base
        inside = off < self.SPAN
        slots = self._slots(pcs, off, inside)
        if not slots.all():
            fresh = pcs[slots == 0]
            _, first = np.unique(fresh, return_index=True)
            for pc in fresh[np.sort(first)].tolist():
                self.order.append(pc)
                if 0 <= pc - self.base < self.SPAN:
                    self.table[pc - self.base] = len(self.order)
                else:
                    self.outside[pc] = len(self.order)
            self.counts = np.concatenate(
                (self.counts, np.zeros(len(self.order) + 1 - len(self.counts), np.int64))
            )
            slots = self._slots(pcs, off, inside)
        self.counts += np.bincount(slots, minlength=len(self.counts))

    def result(self) -> tuple[list[int], list[int]]:
        return self.order, self.counts[1:].tolist()


def _scan(path: Path, spans: list[tuple[int, int]], layout: Layout, swi_pc: int) -> _Part:
    """pcs in first-seen order with their counts, and the offsets of vector_swi
    Trace lines' pc fields, over some windows of a file."""
    tally = _Tally()
    swi_at: list[int] = []
    buf = bytearray(CHUNK)
    with open(path, "rb") as f:
        for start, end in spans:
            if end - start > len(buf):
                buf = bytearray(end - start)
            f.seek(start)
            n = f.readinto(memoryview(buf)[: end - start])
            at, pcs = _window_pcs(np.frombuffer(buf, np.uint8, n), layout)
            tally.add(pcs)
            swi_at += (at[pcs == swi_pc] + start).tolist()
    return (*tally.result(), swi_at)


def _scan_parallel(
    path: Path, spans: list[tuple[int, int]], layout: Layout, swi_pc: int, jobs: int
):
    """_scan over contiguous runs of windows, one per core; this process takes
    the last run itself rather than wait idle. Parts come back in file order."""
    per = -(-len(spans) // jobs)
    runs = [spans[i : i + per] for i in range(0, len(spans), per)]
    waits = [_forked(_scan, path, run, layout, swi_pc) for run in runs[:-1]]
    last = _scan(path, runs[-1], layout, swi_pc)
    return [wait() for wait in waits] + [last]


def _forked(fn: Callable[..., _T], *args: object) -> Callable[[], _T]:
    """Start fn(*args) in a forked child; the function returned waits for its value.

    A bare fork and a pipe: a process pool costs more to import and start
    than the trace command can spare. The child's exception is raised here.
    """
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running any exit handler
        os.close(rd)
        try:
            out: tuple[bool, object] = (True, fn(*args))
        except BaseException as e:  # noqa: BLE001 - handed to the parent
            out = (False, e)
        try:
            with os.fdopen(wr, "wb") as f:
                pickle.dump(out, f)
        finally:
            os._exit(0)
    os.close(wr)

    def wait() -> _T:
        with os.fdopen(rd, "rb") as f:
            data = f.read()
        _, status = os.waitpid(pid, 0)
        if not data:
            raise TraceError(f"a trace-parsing worker died (wait status {status:#x})")
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    return wait


def _dump_comes_first(head: bytes) -> bool:
    """Vote on the first records: does each dump match the Trace before or after it?"""
    after = before = 0
    last_pc = None
    pending_r15 = None
    for line in head.splitlines():
        if m := _TRACE_FIELDS.match(line):
            pc = int(m[2], 16)
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


def _hex_at(buf, at: int) -> int | None:
    m = _HEX_RUN.match(buf, at)
    return int(m[0], 16) if m else None


def _syscall_r7(buf, pc_at: int, swi_pc: int, dump_first: bool) -> int | None:
    """R07 of the dump that belongs to the vector_swi Trace line at pc_at.

    The dump belongs to the record: from this Trace line to the next one (or,
    dump first, from the previous Trace line to this one). No dump there, or
    one whose R15 is not vector_swi, means an orphan.
    """
    # Every search is bounded by RECORD_REACH: a file whose lines run on
    # (newlines lost) costs linear time, not a scan back to its start per hit.
    newline = buf.rfind(b"\n", max(0, pc_at - RECORD_REACH), pc_at)
    if newline < 0 and pc_at >= RECORD_REACH:
        return None  # no line of its own: not a record
    line_start = newline + 1
    if dump_first:
        lo = max(0, line_start - RECORD_REACH)
        prev = buf.rfind(b"\nTrace ", lo, max(lo, line_start - 1))
        lo, hi = (prev + 1 if prev >= 0 else lo), line_start
        r15 = buf.rfind(b"R15=", lo, hi)
    else:
        lo = buf.find(b"\n", pc_at, pc_at + RECORD_REACH)
        if lo < 0:
            return None
        hi = min(len(buf), lo + RECORD_REACH)
        nxt = buf.find(b"\nTrace ", lo, hi)
        hi = nxt if nxt >= 0 else hi
        r15 = buf.find(b"R15=", lo, hi)
    if r15 < 0 or _hex_at(buf, r15 + 4) != swi_pc:
        return None
    r07 = buf.rfind(b"R07=", max(lo, r15 - 200), r15)
    return _hex_at(buf, r07 + 4) if r07 >= 0 else None


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
                cut = _boundary(buf, end, min(size, end + CHUNK), forward=True)
            end = cut + 1 if cut >= 0 else min(size, end + CHUNK)
        yield start, end
        start = end


def parse_trace(path: Path, swi_pc: int, jobs: int | None = None, strict: bool = True) -> RawTrace:
    """One streaming pass over `path`. swi_pc is vector_swi's entry, Thumb bit clear.

    A large file is split into contiguous runs of windows, one per core, and
    the partial counts are merged in file order. A trace whose last record
    is cut is refused when `strict` (the cycle runs QEMU itself: a cut trace
    means it died); else its complete records are counted and `truncated`
    says what was left out.
    """
    path = Path(path)
    _check_file(path)
    swi_pc &= ~1
    raw = RawTrace()
    size = path.stat().st_size
    no_records = TraceError(
        f"{path} holds no Trace records: was QEMU run with '-d exec,cpu' and '-D {path.name}'?"
    )
    if not size:
        raise no_records
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        first = _TRACE_FIELDS.search(buf)
        if first is None:
            raise no_records
        layout = Layout.of(first)
        _check_lines(path, buf[: min(size, CHUNK)])
        raw.dump_first = _dump_comes_first(buf[: min(size, 256 << 10)])
        cut = truncation(buf[max(0, size - 4096) :], raw.dump_first)
        end = size
        if cut:
            if strict:
                raise TraceError(
                    f"{path} is truncated: {cut}. QEMU was probably killed while tracing, or "
                    "the disk filled up; trace again"
                )
            end = _last_record_start(buf, size, raw.dump_first)
            raw.truncated = (
                f"{cut}: its last {size - end} bytes, an incomplete record, were left out"
            )
        spans = list(_windows(buf, end))
        jobs = jobs or min(4, len(os.sched_getaffinity(0)))
        if end < PARALLEL_MIN or jobs < 2 or len(spans) < 2:
            parts = [_scan(path, spans, layout, swi_pc)]
        else:
            parts = _scan_parallel(path, spans, layout, swi_pc, jobs)
        for order, counts, swi_at in parts:  # file order: first-seen order survives the merge
            if not raw.pc_hits:
                raw.pc_hits = Counter(dict(zip(order, counts, strict=True)))
            else:
                raw.pc_hits.update(dict(zip(order, counts, strict=True)))
            raw.syscall_r7 += [_syscall_r7(buf, at, swi_pc, raw.dump_first) for at in swi_at]
    raw.blocks = sum(raw.pc_hits.values())
    if raw.blocks == 0:
        raise no_records
    return raw


# A QEMU log line is a Trace line, a register row or a disassembled
# instruction: well under this. Longer means the newlines were lost.
MAX_LINE = 64 << 10


def _check_file(path: Path) -> None:
    """A regular file: the trace is mapped, which a folder or a pipe cannot be."""
    if path.is_dir():
        raise TraceError(f"trace {path} is a folder: give the file QEMU wrote with -D")
    if not path.exists():
        raise TraceError(f"trace file {path} does not exist")
    if not path.is_file():
        raise TraceError(
            f"trace {path} is not a regular file (a pipe or a device?): kqual reads a trace "
            "by mapping it; write it to a file first"
        )


def _check_lines(path: Path, head: bytes) -> None:
    """Refuse a log whose records no longer sit on lines of their own."""
    a = np.frombuffer(head, np.uint8)
    breaks = np.flatnonzero(a == ord("\n"))
    edges = np.concatenate(([-1], breaks, [len(a)] if len(a) > MAX_LINE else []))
    longest = int(np.diff(edges).max(initial=0))
    if longest > MAX_LINE:
        raise TraceError(
            f"{path}: a line of its first {len(a) >> 20 or 1} MB runs {longest} bytes without a "
            "newline; a QEMU log puts each Trace line and register row on its own line. "
            "Were its newlines lost (copied through a tool that joined lines)? Use the file "
            "QEMU wrote"
        )


def _last_record_start(buf, size: int, dump_first: bool) -> int:
    """Where the last record begins: its Trace line, or its dump when dumps come first."""
    start = b"\nR00=" if dump_first else b"\nTrace "
    at = buf.rfind(start, max(0, size - (1 << 20)), size)
    return at + 1 if at >= 0 else 0


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
