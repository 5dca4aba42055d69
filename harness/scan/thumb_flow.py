"""Which values a register can hold at a point of Thumb-2 code.

A small forward dataflow over one function at a time, enough to answer
"what is r7 at this `svc`" in compiler output and musl's assembly: constants
from mov/movw/movt/mvn, literal-pool loads, register copies, add/sub of
constants, the stack (push/str spills and their reloads, as musl's variadic
`syscall()` does), and calls, which clobber r0-r3, r12 and lr (AAPCS).
An incoming argument is a symbolic value, so the caller can resolve it at
each call site. Anything else is unknown, never guessed.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from capstone import arm

from .arm_image import Decoder, Image
from .thumb_values import (
    ARG_REGS,
    MASK,
    SP,
    State,
    Value,
    add_values,
    const,
    constants,
    has_stack_address,
    join,
    offset,
    on_stack,
)

WIDEN_AFTER = 24  # visits of one instruction before values still changing there are dropped

R0, R7, R12 = arm.ARM_REG_R0, arm.ARM_REG_R7, arm.ARM_REG_R12
LR, PC = arm.ARM_REG_LR, arm.ARM_REG_PC
CALL_CLOBBERED = (*ARG_REGS, R12, LR)


@dataclass
class CallSite:
    address: int
    target: int
    state: State
    tail: bool = False


@dataclass
class SvcSite:
    address: int
    r7: Value


@dataclass
class Function:
    start: int
    name: str
    calls: list[CallSite] = field(default_factory=list)
    svcs: list[SvcSite] = field(default_factory=list)
    addresses_taken: set[int] = field(default_factory=set)  # pc-relative code addresses
    # (address, what): flow the analysis could not follow
    problems: list[tuple[int, str]] = field(default_factory=list)
    returns: bool = False  # some path returns (tail calls aside)


def _inverse(cc: int) -> int:
    """The opposite ARM condition (EQ/NE, HS/LO, ... GT/LE) in Capstone's numbering."""
    return cc + 1 if cc % 2 else cc - 1


def _record_call(calls: dict[int, CallSite], site: CallSite) -> None:
    """One call site may be reached on several paths: its state is their join."""
    seen = calls.get(site.address)
    if seen is not None:
        site.state.merge(seen.state)
    calls[site.address] = site


def _regs(insn, start: int = 0) -> list[int]:
    return [op.reg for op in insn.operands[start:] if op.type == arm.ARM_OP_REG]


def _mem(insn):
    return next((op.mem for op in insn.operands if op.type == arm.ARM_OP_MEM), None)


def _imm(insn) -> int | None:
    ops = [op for op in insn.operands if op.type == arm.ARM_OP_IMM]
    return ops[-1].imm if ops else None


class FunctionFlow:
    """Dataflow over one function from its entry."""

    def __init__(
        self,
        image: Image,
        decoder: Decoder,
        start: int,
        is_function,
        noreturn: frozenset[int] = frozenset(),
    ) -> None:
        self.image = image
        self.dec = decoder
        self.start = start
        self.is_function = is_function  # addr -> bool: a `b` there is a tail call
        self.noreturn = noreturn  # callees that never return: no fallthrough after them
        size = image.functions.get(start, ("", 0))[1]
        self.end = start + size if size else None
        self.fn = Function(start, image.name_of(start))

    def _inside(self, addr: int) -> bool:
        if addr == self.start:
            return True
        if self.end is not None:
            return self.start <= addr < self.end
        return not self.is_function(addr)

    def run(self) -> Function:
        """Forward dataflow to a fixpoint.

        A state is kept per (address, IT path): inside an IT block each of the
        two paths runs only the instructions of its own condition, so `ite`
        choosing between two numbers gives exactly those two.
        """
        entry = (self.start, None, 0)
        states: dict[tuple[int, int | None, int], State] = {entry: State.entry()}
        visits: dict[tuple[int, int | None, int], int] = {}
        work = [(self.start, -1, 0)]  # a heap: lowest address first, near reverse postorder
        calls: dict[int, CallSite] = {}
        svcs: dict[int, SvcSite] = {}
        after_call: set[int] = set()  # may be data, when the callee does not return
        while work:
            addr, a, left = heapq.heappop(work)
            assume = None if a < 0 else a
            key = (addr, assume, left)
            insn = self.dec.at(addr)
            if insn is None:
                if self.image.is_code(addr) and addr not in after_call:
                    self.fn.problems.append((addr, "cannot decode the code here"))
                continue  # data after a call that does not return
            visits[key] = visits.get(key, 0) + 1
            state = states[key]
            nxt = insn.address + insn.size
            if insn.id == arm.ARM_INS_IT:
                first = self.dec.it_block(addr)
                if first is None or first.cc in (arm.ARM_CC_AL, arm.ARM_CC_INVALID):
                    self.fn.problems.append((addr, "IT block not understood"))
                    continue
                size = len(insn.mnemonic) - 1  # it, ite, itte, ...
                succ = [(nxt, first.cc, size), (nxt, _inverse(first.cc), size)]
                out = state.copy()
            else:
                in_block = assume is not None and insn.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID)
                if in_block and insn.cc != assume:
                    out, targets = state.copy(), [nxt]  # not this path's instruction
                else:
                    out, targets = self.step(insn, state.copy(), calls, svcs, in_block)
                if insn.id in (arm.ARM_INS_BL, arm.ARM_INS_BLX):
                    after_call.update(targets)
                rest = left - 1 if assume is not None else 0
                succ = [
                    (t, assume, rest) if t == nxt and rest > 0 else (t, None, 0) for t in targets
                ]
            for s in succ:
                if not self._inside(s[0]):
                    continue  # fell off the end after a call that does not return
                heap_key = (s[0], -1 if s[1] is None else s[1], s[2])
                if s not in states:
                    states[s] = out.copy()
                    heapq.heappush(work, heap_key)
                    continue
                if visits.get(s, 0) > WIDEN_AFTER:
                    before = states[s].copy()
                    states[s].widen(out)
                    changed = states[s] != before
                else:
                    changed = states[s].merge(out)
                if changed:
                    heapq.heappush(work, heap_key)
        self.fn.calls = sorted(calls.values(), key=lambda c: c.address)
        self.fn.svcs = sorted(svcs.values(), key=lambda s: s.address)
        return self.fn

    # -- one instruction -------------------------------------------------
    def step(self, insn, st: State, calls, svcs, taken: bool = False) -> tuple[State, list[int]]:
        """Apply one instruction; `taken`: an IT-block member whose condition holds here."""
        nxt = insn.address + insn.size
        iid = insn.id
        cond = not taken and insn.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID)
        if iid == arm.ARM_INS_SVC:
            seen = svcs.get(insn.address)
            r7 = join(seen.r7, st.reg(R7)) if seen else st.reg(R7)
            svcs[insn.address] = SvcSite(insn.address, r7)
            st.regs.pop(R0, None)
            return st, [nxt]
        if iid in (arm.ARM_INS_BL, arm.ARM_INS_BLX):
            target = _imm(insn) if insn.operands[0].type == arm.ARM_OP_IMM else None
            if target is not None:
                _record_call(calls, CallSite(insn.address, target & ~1, st.copy()))
            if any(has_stack_address(st.reg(r)) for r in ARG_REGS):
                st.escaped = True
            if st.escaped:
                st.clobber()  # the callee may write this frame through the pointer
            for r in CALL_CLOBBERED:
                st.regs.pop(r, None)
            if target is not None and target & ~1 in self.noreturn and not cond:
                return st, []
            return st, [nxt]
        if iid == arm.ARM_INS_B:
            target = _imm(insn)
            if target is None:
                self.fn.problems.append((insn.address, "branch with no target"))
                return st, []
            succs = [nxt] if cond else []
            if self._inside(target):
                succs.append(target)
            else:
                _record_call(calls, CallSite(insn.address, target, st.copy(), tail=True))
            return st, succs
        if iid in (arm.ARM_INS_CBZ, arm.ARM_INS_CBNZ):
            return st, [nxt, _imm(insn)]
        if iid in (arm.ARM_INS_TBB, arm.ARM_INS_TBH):
            return st, self._table(insn, st)
        if iid == arm.ARM_INS_BX:  # a return, or a tail call through a register
            self.fn.returns = True
            return st, [nxt] if cond else []
        if iid == arm.ARM_INS_UDF:
            return st, []
        before = st.copy() if cond else None
        ends = self.transfer(insn, st)
        if ends:
            self.fn.returns = True
        if before is not None:
            st.merge(before)
            return st, [nxt]
        return st, [] if ends else [nxt]

    def _table(self, insn, st: State) -> list[int]:
        """tbb/tbh [pc, Rm]: targets from the table, its length from `cmp Rm, #n`."""
        mem = _mem(insn)
        n = self._bound(insn, mem.index if mem else None)
        base = insn.address + 4
        if mem is None or mem.base != PC or n is None:
            self.fn.problems.append((insn.address, "jump table of unknown length"))
            return []
        width = 1 if insn.id == arm.ARM_INS_TBB else 2
        raw = self.image.read(base, n * width) or b""
        return [
            base + 2 * int.from_bytes(raw[i : i + width], "little")
            for i in range(0, len(raw), width)
        ]

    def _bound(self, insn, index: int | None) -> int | None:
        """Entries: from `cmp Rm, #n` (then bhi) or `and Rm, #2^k-1` before the table."""
        addr = insn.address
        for back in range(2, 24, 2):
            prev = self.dec.cache.get(addr - back)
            if prev is None or _regs(prev)[:1] != [index]:
                continue
            imm = _imm(prev)
            if imm is None:
                continue
            if prev.id == arm.ARM_INS_CMP:
                return imm + 1
            if prev.id == arm.ARM_INS_AND and imm & (imm + 1) == 0:
                return imm + 1
            if prev.id == arm.ARM_INS_UBFX:
                return 1 << imm
        return None

    def transfer(self, insn, st: State) -> bool:
        """Apply insn to st; True when control does not go on (a return)."""
        iid = insn.id
        regs = _regs(insn)
        imm = _imm(insn)
        pc = insn.address + 4
        if iid in (arm.ARM_INS_MOV, arm.ARM_INS_MOVW) and regs:
            if len(regs) >= 2:
                v = frozenset({("p", pc)}) if regs[1] == PC else st.reg(regs[1])
            else:
                v = const(imm) if imm is not None else None
            self._set(st, regs[0], v)
            return regs[0] == PC
        if iid == arm.ARM_INS_MVN and len(regs) == 1 and imm is not None:
            self._set(st, regs[0], const(~imm))
            return False
        if iid == arm.ARM_INS_MOVT and regs and imm is not None:
            old = constants(st.reg(regs[0]))
            v = frozenset(("c", (x & 0xFFFF) | (imm << 16)) for x in old) if old else None
            self._set(st, regs[0], v)
            return False
        if iid in (
            arm.ARM_INS_ADD,
            arm.ARM_INS_ADDW,
            arm.ARM_INS_SUB,
            arm.ARM_INS_SUBW,
            arm.ARM_INS_ADR,
        ):
            self._set(st, regs[0], self._arith(insn, st, regs, imm, pc))
            return False
        if iid in (arm.ARM_INS_PUSH, arm.ARM_INS_STMDB) and self._pushes(insn, st, regs):
            return False
        if iid in (arm.ARM_INS_POP, arm.ARM_INS_LDM) and self._pops(insn, st, regs):
            return PC in regs
        if iid in (arm.ARM_INS_LDR, arm.ARM_INS_LDRD, arm.ARM_INS_STR, arm.ARM_INS_STRD):
            self._memory(insn, st, regs)
            return PC in regs[:1] and iid == arm.ARM_INS_LDR
        if insn.mnemonic.startswith(("str", "stm", "vst", "vpush")):
            self._untracked_store(insn, st)
        _, written = insn.regs_access()
        for r in written:
            self._set(st, r, None)
        if PC in written:
            self.fn.problems.append((insn.address, "computed jump"))
        return PC in written

    def _untracked_store(self, insn, st: State) -> None:
        """A store not modelled (byte, halfword, multiple, indexed): what it may hit is unknown."""
        mem = _mem(insn)
        base = st.reg(mem.base) if mem is not None else st.reg(_regs(insn)[0])
        if has_stack_address(base) or (base is None and st.escaped):
            st.clobber()
        stored = [st.reg(r) for r in _regs(insn, 0 if mem is not None else 1)]
        if any(has_stack_address(v) for v in stored) and not on_stack(base):
            st.escaped = True

    def _set(self, st: State, reg: int, v: Value) -> None:
        if v is None:
            st.regs.pop(reg, None)
        else:
            st.regs[reg] = v
        if reg == PC:
            return
        if v is not None:
            for kind, x in v:
                if kind == "p" and x & 1 and self.image.is_code(x & ~1):
                    self.fn.addresses_taken.add(x & ~1)

    def _value(self, st: State, reg: int, pc: int) -> Value:
        return frozenset({("p", pc)}) if reg == PC else st.reg(reg)

    def _arith(self, insn, st: State, regs, imm, pc) -> Value:
        sign = -1 if insn.id in (arm.ARM_INS_SUB, arm.ARM_INS_SUBW) else 1
        if insn.id == arm.ARM_INS_ADR:
            return frozenset({("p", ((pc & ~3) + imm) & MASK)})
        srcs = regs[1:] if len(regs) > 1 else regs[:1]
        if len(regs) == 1 and imm is None:
            return None
        if any(
            op.type == arm.ARM_OP_REG and op.shift.type != arm.ARM_SFT_INVALID
            for op in insn.operands
        ):
            return None
        if imm is not None and len(srcs) == 1:
            base = srcs[0]
            if base == PC:  # addw rX, pc, #imm: the aligned pc
                return frozenset({("p", ((pc & ~3) + sign * imm) & MASK)})
            return add_values(self._value(st, base, pc), const(imm), sign)
        if len(srcs) == 2 and imm is None:
            return add_values(self._value(st, srcs[0], pc), self._value(st, srcs[1], pc), sign)
        if len(regs) == 2 and imm is None:  # add rd, rm: rd = rd + rm
            return add_values(self._value(st, regs[0], pc), self._value(st, regs[1], pc), sign)
        return None

    def _pushes(self, insn, st: State, regs) -> bool:
        if insn.id == arm.ARM_INS_STMDB:
            if not regs or regs[0] != SP or not insn.writeback:
                return False
            regs = regs[1:]
        sp = offset(st.reg(SP), -4 * len(regs))
        for i, r in enumerate(regs):
            st.store(offset(sp, 4 * i), st.reg(r))
        self._set(st, SP, sp)
        return True

    def _pops(self, insn, st: State, regs) -> bool:
        if insn.id == arm.ARM_INS_LDM:
            if not regs or regs[0] != SP or not insn.writeback:
                return False
            regs = regs[1:]
        sp = st.reg(SP)
        for i, r in enumerate(regs):
            if r != PC:
                self._set(st, r, st.load(offset(sp, 4 * i)))
        self._set(st, SP, offset(sp, 4 * len(regs)))
        return True

    def _memory(self, insn, st: State, regs) -> None:
        mem = _mem(insn)
        loads = insn.id in (arm.ARM_INS_LDR, arm.ARM_INS_LDRD)
        data = regs[:2] if insn.id in (arm.ARM_INS_LDRD, arm.ARM_INS_STRD) else regs[:1]
        if mem is None:
            for r in data if loads else []:
                self._set(st, r, None)
            return
        if mem.base == PC and loads:  # a literal-pool load
            addr = ((insn.address + 4) & ~3) + mem.disp
            for i, r in enumerate(data):
                w = self.image.word(addr + 4 * i)
                self._set(st, r, const(w) if w is not None else None)
            return
        if mem.index and not loads:
            self._untracked_store(insn, st)
            return
        post = getattr(insn, "post_index", False)
        base = st.reg(mem.base)
        addr = None if mem.index else offset(base, 0 if post else mem.disp)
        for i, r in enumerate(data):
            at = offset(addr, 4 * i)
            if loads:
                self._set(st, r, st.load(at))
            else:
                st.store(at, st.reg(r))
        if insn.writeback and mem.base not in data:
            step = _imm(insn) if post else mem.disp
            self._set(st, mem.base, offset(base, step) if step is not None else None)


def analyze_image(image: Image) -> dict[int, Function]:
    """Every function of the image, found from symbols, pointers and calls.

    A call to a function that never returns is not followed by code but,
    often, by a literal pool: the analysis runs again with those callees
    known until the set is stable, so no pool is read as code.
    """
    dec = Decoder(image)
    noreturn: frozenset[int] = frozenset()
    known: set[int] = set()
    for _ in range(8):
        funcs = _discover(image, dec, noreturn, known)
        known |= set(funcs)  # next round, a `b` to any of them is a tail call
        found = _never_return(funcs)
        if found == noreturn:
            break
        noreturn = found
    return funcs


def _discover(
    image: Image, dec: Decoder, noreturn: frozenset[int], seen: set[int]
) -> dict[int, Function]:
    roots = set(image.functions) | image.code_pointers() | seen
    if image.is_code(image.entry & ~1):
        roots.add(image.entry & ~1)
    known = set(roots)
    out: dict[int, Function] = {}
    pending = sorted(roots)
    while pending:
        start = pending.pop()
        if start in out or not image.is_code(start):
            continue
        fn = FunctionFlow(image, dec, start, known.__contains__, noreturn).run()
        out[start] = fn
        new = {c.target for c in fn.calls} | fn.addresses_taken
        for t in new - known:
            known.add(t)
            pending.append(t)
    return out


def _never_return(funcs: dict[int, Function]) -> frozenset[int]:
    """Functions with no path to a return, their own or a tail-called one's."""
    returns = {a for a, f in funcs.items() if f.returns or f.problems}
    changed = True
    while changed:
        changed = False
        for a, f in funcs.items():
            if a not in returns and any(
                c.tail and (c.target in returns or c.target not in funcs) for c in f.calls
            ):
                returns.add(a)
                changed = True
    return frozenset(funcs) - returns
