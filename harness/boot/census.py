"""What a shell can see of the kernel, taken on a live machine.

A smaller kernel can drop an interface nothing in the workload touches
(`PROC_SYSCTL=n` takes `/proc/sys` away, and with it setting the hostname).
The census lists, from the guest's own shell: the entries under /proc and
/sys (a bounded walk: names, and whether each file opens and reads), the
filesystems /proc/filesystems offers, and whether the device nodes the
initramfs declares open. Two censuses of the same image are the same: process
folders and other per-boot entries are left out (census.sh).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from ..core import jsonfile
from ..core.errors import KqualError
from .meminfo import Meminfo

ROOTS = ("/proc", "/sys")
DEPTH = 8  # /sys/devices/platform/soc/<bus>/<device>/<class>/<name>/<attribute>
GUEST_SCRIPT = "/tmp/kqual-census.sh"
END = "census end"
TIMEOUT_S = 120.0


class Kind(StrEnum):
    """What a path is, as the shell found it."""

    DIR = "d"
    LINK = "l"
    READS = "r"  # a file that opens for reading and reads
    NO_OPEN = "-"  # a file that is listed but does not open for reading
    NO_READ = "x"  # a file that opens, and whose read fails


class CensusError(KqualError):
    """The guest's answer is not a whole census (cut short, or not the script's)."""


@dataclass(frozen=True)
class Census:
    entries: dict[str, Kind] = field(default_factory=dict)  # path -> kind
    filesystems: frozenset[str] = frozenset()
    devices: dict[str, bool] = field(default_factory=dict)  # node -> opens
    read_errors: dict[str, str] = field(default_factory=dict)  # path -> the read's error

    def as_json(self) -> dict[str, Any]:
        return {
            "entries": {p: k.value for p, k in sorted(self.entries.items())},
            "filesystems": sorted(self.filesystems),
            "devices": dict(sorted(self.devices.items())),
            "read_errors": dict(sorted(self.read_errors.items())),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Census:
        return cls(
            {p: Kind(k) for p, k in data["entries"].items()},
            frozenset(data["filesystems"]),
            {p: bool(v) for p, v in data["devices"].items()},
            dict(data.get("read_errors", {})),
        )


def script() -> str:
    return resources.files(__package__).joinpath("census.sh").read_text()


def command(nodes: list[str], depth: int = DEPTH, roots: tuple[str, ...] = ROOTS) -> str:
    """The shell command that runs the census (the script is on the guest already)."""
    args = [str(depth), *roots, "--", *nodes]
    return "sh " + GUEST_SCRIPT + " " + " ".join(shlex.quote(a) for a in args)


def install_command() -> str:
    """One console line that writes census.sh on the guest: a command cannot span lines."""
    lines = [line for line in script().splitlines() if line.strip()]
    return "printf '%s\\n' " + " ".join(shlex.quote(line) for line in lines) + " >" + GUEST_SCRIPT


def parse(text: str, origin: str = "census") -> Census:
    """The census from the script's output; a cut-short or foreign output is an error."""
    entries: dict[str, Kind] = {}
    filesystems: set[str] = set()
    devices: dict[str, bool] = {}
    errors: dict[str, str] = {}
    ended = False
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line:
            continue
        if ended:
            raise CensusError(f"{origin}:{n}: output after '{END}': {line[:120]!r}")
        if line == END:
            ended = True
            continue
        tag, sep, rest = line.partition(" ")
        if not sep or not rest:
            raise CensusError(f"{origin}:{n}: not a census line: {line[:120]!r}")
        if tag in ("d", "l", "r", "-"):
            entries[rest] = Kind(tag)
        elif tag == "x":
            path, _, why = rest.rpartition(": ")
            if not path:
                raise CensusError(f"{origin}:{n}: a read error without its file: {line[:120]!r}")
            entries[path] = Kind.NO_READ
            errors[path] = why
        elif tag == "fs":
            filesystems.add(rest)
        elif tag in ("dev", "nodev"):
            devices[rest] = tag == "dev"
        else:
            raise CensusError(f"{origin}:{n}: not a census line: {line[:120]!r}")
    if not ended:
        raise CensusError(
            f"{origin}: cut short: no '{END}' line (the guest's shell stopped, or the "
            "console lost output); take the census again"
        )
    if not entries:
        raise CensusError(f"{origin}: no entry under {', '.join(ROOTS)}: are they mounted?")
    return Census(entries, frozenset(filesystems), devices, errors)


def take_census(session: Any, nodes: list[str], log: Path | None = None) -> Census:
    """Run the census on a live machine (a QemuSession); its raw output goes to `log`."""
    session.run(install_command(), what="writing the census script")
    result = session.run(command(nodes), TIMEOUT_S, what="the census of /proc and /sys")
    if log is not None:
        log.write_text(result.output)
    if result.status != 0:
        raise CensusError(f"the census script exited {result.status}: {result.output[-300:]}")
    return parse(result.output, str(log or "census"))


CENSUS_FILE = "census.json"  # in the candidate's results folder, one per run


@dataclass(frozen=True)
class CensusRecord:
    """A candidate's census of one run, with the reachable syscalls its build
    made ENOSYS against the baseline ('name (nr)'), found from its System.map."""

    run_id: str
    census: Census
    syscalls_lost: list[str] = field(default_factory=list)
    meminfo: Meminfo | None = None  # /proc/meminfo on the same machine, at shell-ready

    def dumps(self) -> str:
        data = {
            "run_id": self.run_id,
            "census": self.census.as_json(),
            "syscalls_lost": self.syscalls_lost,
            "meminfo": self.meminfo.as_json() if self.meminfo else None,
        }
        return jsonfile.dumps("census", data)


def read_census(folder: Path, run_id: str) -> CensusRecord | None:
    """The folder's census when this run took it; None otherwise (or damaged)."""
    try:
        data = jsonfile.loads("census", (folder / CENSUS_FILE).read_text())
    except OSError:
        return None
    if data is None or data.get("run_id") != run_id:
        return None
    try:
        mem = Meminfo.from_json(data["meminfo"]) if data.get("meminfo") else None
        census = Census.from_json(data["census"])
        return CensusRecord(run_id, census, list(data["syscalls_lost"]), mem)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
