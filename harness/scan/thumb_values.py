"""The values a register or stack slot can hold: a small lattice for Thumb-2 dataflow.

An atom is one possible value: ("c", n) a constant, ("a", k) the function's
k-th incoming argument (k >= 4 on the stack), ("s", off) the address
entry-sp + off, ("p", addr) an address computed from the pc. A value is a
small set of atoms, or None: unknown. Unknown is never narrowed again, so
anything the analysis cannot follow stays visible as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from capstone import arm

Atom = tuple[str, int]
Value = frozenset[Atom] | None  # None: unknown
MAX_ATOMS = 16
MASK = 0xFFFFFFFF

SP = arm.ARM_REG_SP
ARG_REGS = [arm.ARM_REG_R0, arm.ARM_REG_R1, arm.ARM_REG_R2, arm.ARM_REG_R3]


def const(n: int) -> Value:
    return frozenset({("c", n & MASK)})


def join(a: Value, b: Value) -> Value:
    if a is None or b is None:
        return None
    u = a | b
    return u if len(u) <= MAX_ATOMS else None


def constants(v: Value) -> set[int] | None:
    """The constants v can be; None when it can be anything else too."""
    if v is None or any(k != "c" for k, _ in v):
        return None
    return {n for _, n in v}


@dataclass
class State:
    regs: dict[int, Value] = field(default_factory=dict)  # missing: unknown
    stack: dict[int, Value] = field(default_factory=dict)  # entry-sp offset -> value
    # A stack address was passed to a call or stored where it is not tracked:
    # from then on a call or an untracked store may write any slot.
    escaped: bool = False
    wild: bool = False  # slots not in `stack` are unknown (after such a write)

    @classmethod
    def entry(cls) -> State:
        regs: dict[int, Value] = {r: frozenset({("a", k)}) for k, r in enumerate(ARG_REGS)}
        regs[SP] = frozenset({("s", 0)})
        return cls(regs)

    def copy(self) -> State:
        return State(dict(self.regs), dict(self.stack), self.escaped, self.wild)

    def reg(self, r: int) -> Value:
        return self.regs.get(r)

    def slot(self, off: int) -> Value:
        if off in self.stack:
            return self.stack[off]
        if off >= 0 and off % 4 == 0 and not self.wild:
            return frozenset({("a", 4 + off // 4)})  # the caller's stack arguments
        return None

    def clobber(self) -> None:
        """Something may have written any stack slot."""
        self.stack = {}
        self.wild = True

    def load(self, addr: Value) -> Value:
        if addr is None or any(k != "s" for k, _ in addr):
            return None
        out: Value = frozenset()
        for _, off in addr:
            out = join(out, self.slot(off))
        return out

    def store(self, addr: Value, v: Value) -> None:
        if v is not None and any(k == "s" for k, _ in v) and not on_stack(addr):
            self.escaped = True
        if not on_stack(addr):
            if self.escaped:
                self.clobber()  # the pointer may point into this frame
            return
        assert addr is not None
        offs = [off for _, off in addr]
        for off in offs:
            self.stack[off] = v if len(offs) == 1 else join(self.slot(off), v)

    def merge(self, other: State) -> bool:
        """Join other into self; True when self changed."""
        if self == other:
            return False
        changed = False
        for r in set(self.regs) | set(other.regs):
            new = join(self.regs.get(r), other.regs.get(r))
            if new != self.regs.get(r):
                changed = True
            if new is None:
                self.regs.pop(r, None)
            else:
                self.regs[r] = new
        wild = self.wild or other.wild
        stack = {}
        for off in set(self.stack) | set(other.stack):
            new = join(self.slot(off), other.slot(off))
            if new != self.slot(off):
                changed = True
            stack[off] = new
        if wild != self.wild or other.escaped != self.escaped and other.escaped:
            changed = True
        self.stack, self.wild, self.escaped = stack, wild, self.escaped or other.escaped
        return changed

    def widen(self, other: State) -> None:
        """Join, and give up on every value still changing (a loop that counts)."""
        before = self.copy()
        self.merge(other)
        for r in list(self.regs):
            if self.regs[r] != before.regs.get(r):
                del self.regs[r]
        for off in list(self.stack):
            if self.stack[off] != before.slot(off):
                self.stack[off] = None

    def arg(self, k: int) -> Value:
        """The k-th argument of a call made in this state."""
        if k < 4:
            return self.reg(ARG_REGS[k])
        return self.load(offset(self.reg(SP), 4 * (k - 4)))


def has_stack_address(v: Value) -> bool:
    return v is not None and any(k == "s" for k, _ in v)


def on_stack(addr: Value) -> bool:
    return addr is not None and all(k == "s" for k, _ in addr)


def offset(v: Value, n: int) -> Value:
    if v is None:
        return None
    out = set()
    for kind, x in v:
        if kind == "a":
            return None
        out.add((kind, (x + n) & MASK if kind in ("c", "p") else x + n))
    return frozenset(out)


def add_values(a: Value, b: Value, sign: int) -> Value:
    if a is None or b is None:
        return None
    out = set()
    for ka, xa in a:
        for kb, xb in b:
            if kb == "c" and ka in ("c", "p", "s"):
                x = xa + sign * xb
                out.add((ka, x & MASK if ka != "s" else x))
            elif ka == "c" and kb in ("p", "s") and sign > 0:
                out.add((kb, (xb + xa) & MASK if kb != "s" else xb + xa))
            else:
                return None
    return frozenset(out) if len(out) <= MAX_ATOMS else None
