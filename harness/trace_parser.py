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

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import KqualError

CHUNK = 16 << 20
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


def _swi_events(swi_pc: int) -> re.Pattern[bytes]:
    """Trace lines at vector_swi, and dumps whose R15 is vector_swi (capturing R07)."""
    pc = rb"0*" + f"{swi_pc:x}".encode()
    return re.compile(
        rb"(Trace \d+: 0x[0-9a-fA-F]+ \[[0-9a-fA-F]+/" + pc + rb"/)"
        rb"|R07=([0-9a-fA-F]+)[ \t]*\r?\n[^\n]*\n[^\n]*R15=" + pc + rb"\b",
        re.IGNORECASE,
    )


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


def parse_trace(path: Path, swi_pc: int) -> RawTrace:
    """One streaming pass over `path`. swi_pc is vector_swi's entry, Thumb bit clear."""
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"trace file {path} does not exist")
    swi_re = _swi_events(swi_pc & ~1)
    raw = RawTrace()
    pcs: Counter[bytes] = Counter()
    events: list[tuple[str, int | None]] = []
    carry = b""
    first = True
    with open(path, "rb") as f:
        while True:
            data = f.read(CHUNK)
            buf = carry + data
            if not buf:
                break
            if data:
                # Keep the last (maybe partial) record for the next chunk.
                # (no boundary yet: carry it all until one arrives)
                cut = max(buf.rfind(b"\nTrace "), buf.rfind(b"\nR00=")) + 1
                body, carry = buf[:cut], buf[cut:]
            else:
                body, carry = buf, b""
            if first and body:
                raw.dump_first = _dump_comes_first(body[: 4 << 20])
                first = False
            pcs.update(_TRACE_PC.findall(body))
            for m in swi_re.finditer(body):
                events.append(("T", None) if m[1] else ("D", int(m[2], 16)))
            if not data:
                break
    for pc_text, n in pcs.items():
        raw.pc_hits[int(pc_text, 16)] += n
    raw.blocks = sum(pcs.values())
    if raw.blocks == 0:
        raise TraceError(
            f"{path} holds no Trace records: was QEMU run with '-d exec,cpu' and '-D {path.name}'?"
        )
    raw.syscall_r7 = _bind(events, raw.dump_first)
    return raw


def classify(r7: int) -> str:
    if r7 <= MAX_ARM_SYSCALL:
        return "table"
    if r7 >= ARM_PRIVATE_BASE:
        return "private"
    return "invalid"
