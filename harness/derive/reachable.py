"""The syscalls the shipped userspace can make: a scan of every ELF in the initramfs.

The scan takes seconds and depends only on the binaries and the scanner, so
it is cached under the initramfs fingerprint and the scanner's code,
published atomically: a reader sees a whole result or none.
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

from ..core import jsonfile
from ..core.errors import KqualError
from ..core.fingerprint import Fingerprint, code_fingerprint
from ..core.progress import say
from ..core.publish import write_atomic
from ..image.userspace import Initramfs, Userspace
from ..scan.syscalls import ScanResult, scan

ELF_MAGIC = b"\x7fELF"


def initramfs_elves(list_path: Path) -> list[tuple[str, Path]]:
    """(path in the image, local file) of every ELF a gen_init_cpio list installs."""
    out = []
    for n, raw in enumerate(list_path.read_text().splitlines(), 1):
        fields = raw.split()
        if not fields or fields[0] != "file":
            continue
        if len(fields) < 3:
            raise KqualError(f"{list_path}:{n}: a 'file' line needs a destination and a source")
        local = Path(fields[2])
        with open(local, "rb") as f:
            if f.read(4) == ELF_MAGIC:
                out.append((fields[1], local))
    return out


def scan_key(initramfs: Initramfs) -> str:
    """The binaries (the initramfs fingerprint covers how they were built) and the
    scanner's code; not the build code this module imports, which that covers."""
    fp = Fingerprint().add("initramfs", initramfs.fingerprint)
    fp.add("code", code_fingerprint("scan.syscalls", "core.jsonfile", follow=("scan", "kernel")))
    fp.add_file("harness/derive/reachable.py", Path(__file__))
    return fp.digest[:16]


def reachable_syscalls(userspace: Userspace, initramfs: Initramfs, cache: Path) -> ScanResult:
    """Scan result for the initramfs's ELFs (BusyBox read from its unstripped copy)."""
    path = cache / f"{scan_key(initramfs)}.json"
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        data = jsonfile.loads("syscall-scan", path.read_text()) if path.exists() else None
        if data is not None:
            try:
                return ScanResult.from_json(data)
            except (ValueError, KeyError, TypeError):
                say(f"syscall scan cache {path} unreadable; scanning again")
        elves = initramfs_elves(initramfs.list_path)
        if not elves:
            raise KqualError(f"{initramfs.list_path}: the initramfs installs no ELF binary")
        files = [
            (userspace.busybox_unstripped or local) if local == userspace.busybox else local
            for _, local in elves
        ]
        say(f"syscall scan: {', '.join(dest for dest, _ in elves)}")
        result = scan(files, [dest for dest, _ in elves], unreadable_blocks=True)
        write_atomic(path, jsonfile.dumps("syscall-scan", result.as_json()))
    say(
        f"syscall scan: {len(result.numbers)} table syscalls reachable"
        + ("" if result.complete else f", {len(result.unresolved)} sites UNRESOLVED")
    )
    return result
