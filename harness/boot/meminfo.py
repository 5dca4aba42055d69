"""What the kernel leaves userspace: /proc/meminfo read at shell-ready.

On a part with 4 MiB of RAM the figure that matters is not the image's size
but what is free once the shell runs; read on a freshly booted machine, so
the workload cannot change it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..core.errors import KqualError

FIELDS = {"MemTotal": "mem_total_bytes", "MemFree": "mem_free_bytes"}
OPTIONAL = {"MemAvailable": "mem_available_bytes"}  # 3.14 and later


class MeminfoError(KqualError):
    """The guest's answer is not /proc/meminfo."""


@dataclass(frozen=True)
class Meminfo:
    mem_total_bytes: int
    mem_free_bytes: int
    mem_available_bytes: int | None = None

    def as_json(self) -> dict[str, int | None]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Meminfo:
        for key in ("mem_total_bytes", "mem_free_bytes"):
            if not isinstance(data.get(key), int):
                raise ValueError(f"{key!r} must be a byte count")
        avail = data.get("mem_available_bytes")
        if avail is not None and not isinstance(avail, int):
            raise ValueError("'mem_available_bytes' must be a byte count")
        return cls(data["mem_total_bytes"], data["mem_free_bytes"], avail)


def parse_meminfo(text: str, origin: str = "/proc/meminfo") -> Meminfo:
    """The fields kqual records, in bytes ('MemTotal:   3648 kB' lines)."""
    got: dict[str, int] = {}
    for raw in text.splitlines():
        name, sep, rest = raw.strip().partition(":")
        key = FIELDS.get(name) or OPTIONAL.get(name)
        if not sep or key is None:
            continue
        value = rest.split()
        if len(value) != 2 or value[1] != "kB" or not value[0].isdigit():
            raise MeminfoError(f"{origin}: not a meminfo line: {raw.strip()[:120]!r}")
        got[key] = int(value[0]) * 1024
    missing = [n for n, k in FIELDS.items() if k not in got]
    if missing:
        raise MeminfoError(f"{origin}: no {', '.join(missing)} line: is /proc mounted?")
    return Meminfo(**got)


def read_meminfo(session: Any) -> Meminfo:
    """/proc/meminfo of a live machine (a QemuSession)."""
    result = session.run("cat /proc/meminfo", what="reading /proc/meminfo")
    if result.status != 0:
        raise MeminfoError(f"cat /proc/meminfo exited {result.status}: {result.output[-200:]}")
    return parse_meminfo(result.output)
