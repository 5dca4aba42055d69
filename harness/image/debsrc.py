"""Debian source packages: fetched once with apt-get source, unpacked fresh.

Unpacking with dpkg-source applies Debian's own patches, so the userspace is
built from exactly what Debian ships.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from filelock import FileLock

from ..core.errors import KqualError
from ..core.paths import work_dir
from ..core.progress import say
from ..core.runner import require_tool, run_logged


def dsc_path(package: str) -> Path:
    """The .dsc of `package`, downloading it on first use."""
    folder = work_dir() / "debsrc"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / f"{package}.lock")):
        found = sorted(folder.glob(f"{package}_*.dsc"))
        if not found:
            require_tool("apt-get")
            say(f"apt-get source --download-only {package}")
            res = subprocess.run(
                ["apt-get", "source", "--download-only", "-qq", package],
                cwd=folder,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
            found = sorted(folder.glob(f"{package}_*.dsc"))
            if res.returncode != 0 or not found:
                raise KqualError(
                    f"could not fetch the Debian source package '{package}': "
                    f"{res.stderr.strip()[-500:]}\n"
                    "apt-get source needs a deb-src entry; '.ci/setup' adds one."
                )
    return found[-1]


def unpack(package: str, dest: Path, log: Path) -> Path:
    """A fresh copy of the package's source, Debian patches applied."""
    dsc = dsc_path(package)
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    run_logged(["dpkg-source", "--no-check", "-x", dsc, dest], log, f"unpack {package}")
    return dest
