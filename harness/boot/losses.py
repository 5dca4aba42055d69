"""What an image gives up against another, from their censuses and system maps.

A loss is named the way a cycle accepts it (`accept_losses`): a path under
/proc or /sys (accepting a folder accepts everything under it), `filesystem
NAME`, `device PATH` or `syscall NAME`; shell-style wildcards match too. A
folder that is gone is one loss, with the count of what was under it, so the
list stays readable when a whole subsystem goes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from ..settings.losses import DEVICE, FILESYSTEM, SYSCALL
from .census import Census, Kind


class LossKind(StrEnum):
    GONE = "gone"  # the path is not there any more
    NO_OPEN = "no_open"  # it is listed, but no longer opens for reading
    NO_READ = "no_read"  # it opens, but its read fails
    FILESYSTEM = "filesystem"  # /proc/filesystems no longer offers it
    DEVICE = "device"  # a node the initramfs declares no longer opens
    SYSCALL = "syscall"  # the userspace can call it, and it is now ENOSYS


_HOW = {LossKind.NO_OPEN: " (does not open)", LossKind.NO_READ: " (read fails)"}


@dataclass(frozen=True)
class Loss:
    key: str  # how accept_losses names it
    kind: LossKind
    below: int = 0  # entries under a folder that is gone

    def __str__(self) -> str:
        if self.kind == LossKind.GONE:
            under = f", {self.below} entries under it" if self.below else ""
            return f"{self.key} (gone{under})"
        return self.key + _HOW.get(self.kind, "")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Loss:
        return cls(data["key"], LossKind(data["kind"]), int(data.get("below", 0)))


def interface_losses(base: Census, mine: Census) -> list[Loss]:
    """What `mine` lacks of what `base` offers, a folder that is gone counted once."""
    gone = sorted(p for p in base.entries if p not in mine.entries)
    gone_set = set(gone)
    tops: dict[str, int] = {}
    for path in gone:
        top = _topmost_gone(path, gone_set)
        if top == path:
            tops.setdefault(path, 0)
        else:
            tops[top] = tops.get(top, 0) + 1
    out = [Loss(p, LossKind.GONE, n) for p, n in sorted(tops.items())]
    for path, kind in sorted(base.entries.items()):
        now = mine.entries.get(path)
        if now is None or now == kind:
            continue
        if kind == Kind.READS and now in (Kind.NO_OPEN, Kind.NO_READ):
            out.append(Loss(path, LossKind.NO_OPEN if now == Kind.NO_OPEN else LossKind.NO_READ))
        elif kind == Kind.NO_READ and now == Kind.NO_OPEN:
            out.append(Loss(path, LossKind.NO_OPEN))
    out += [
        Loss(FILESYSTEM + fs, LossKind.FILESYSTEM)
        for fs in sorted(base.filesystems - mine.filesystems)
    ]
    out += [
        Loss(DEVICE + node, LossKind.DEVICE)
        for node, opens in sorted(base.devices.items())
        if opens and not mine.devices.get(node, False)
    ]
    return out


def _topmost_gone(path: str, gone: set[str]) -> str:
    top = path
    parent = path.rsplit("/", 1)[0]
    while parent and parent in gone:
        top = parent
        parent = parent.rsplit("/", 1)[0]
    return top


def syscall_loss(name: str) -> Loss:
    """A reachable syscall now ENOSYS (sys_ni_syscall, or pruned)."""
    return Loss(SYSCALL + name, LossKind.SYSCALL)


def syscall_losses(names: set[str]) -> list[Loss]:
    return [syscall_loss(name) for name in sorted(names)]


def accepts(pattern: str, loss: Loss) -> bool:
    """Does an accept_losses entry cover this loss? A path covers what is under it
    (fnmatch's `*` crosses '/', so `/sys/kernel/slab/*` covers the whole folder)."""
    if fnmatchcase(loss.key, pattern):
        return True
    return pattern.startswith("/") and fnmatchcase(loss.key, pattern.rstrip("/") + "/*")


@dataclass
class Judged:
    """Losses split by the cycle's accept_losses, and the entries that matched nothing."""

    refused: list[Loss]
    accepted: list[Loss]
    unused: list[str]


def judge(losses: list[Loss], accept: list[str]) -> Judged:
    used: set[str] = set()
    refused: list[Loss] = []
    accepted: list[Loss] = []
    for loss in losses:
        hits = [p for p in accept if accepts(p, loss)]
        used.update(hits)
        (accepted if hits else refused).append(loss)
    return Judged(refused, accepted, [p for p in accept if p not in used])


def summarize(losses: list[Loss], limit: int = 6) -> str:
    """The losses in a line: the first few, and how many more."""
    shown = ", ".join(str(loss) for loss in losses[:limit])
    more = len(losses) - limit
    return shown + (f" and {more} more" if more > 0 else "")
