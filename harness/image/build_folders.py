"""Build folders named by what they build, shared by every candidate that builds it.

A folder's name is the digest of the candidate's definition: its Kconfig
fragments (by content, in order), make overrides and text order, over the
target's own kernel. Two candidates with the same definition, of any cycle and
under any name, build once in one folder. What shapes the build beyond that
(source, toolchain, userspace, code) is the kernel stage's fingerprint: a
change there rebuilds the folder in place, incrementally.

Which candidate uses which folder is kept in one index per target; a folder
that no candidate uses any more is deleted when the last one moves off it, so
the disk holds one folder per distinct definition in use.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from filelock import FileLock

from ..core import jsonfile
from ..core.paths import work_dir
from ..core.publish import write_atomic

INDEX = "kqual-folders.json"


def builds_root(target_name: str) -> Path:
    return work_dir() / "build" / target_name


def definition_key(
    fragments: list[Path], make_extra: list[str], text_order: str, boot_image: str = ""
) -> str:
    h = hashlib.sha256()
    for frag in fragments:
        h.update(b"fragment\0" + frag.read_bytes() + b"\0")
    h.update(("make\0" + "\0".join(make_extra) + "\0").encode())
    h.update(("order\0" + text_order).encode())
    if boot_image:  # only builds of a zImage carry it: the others keep their keys
        h.update(("boot\0" + boot_image).encode())
    return "k-" + h.hexdigest()[:16]


def claim(target_name: str, user: str, folder_name: str) -> list[str]:
    """Record that `user` ("cycle/candidate") builds in `folder_name`; the other
    users of that folder. A folder `user` leaves and nobody else uses is deleted."""
    root = builds_root(target_name)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / INDEX) + ".lock"):
        index = _read(root)
        previous = index.get(user)
        index[user] = folder_name
        _write(root, index)
        if previous and previous != folder_name and previous not in index.values():
            _remove(root / previous)
    return sorted(u for u, f in index.items() if f == folder_name and u != user)


def release(target_name: str, user: str) -> None:
    """`user` needs no folder any more: its folder goes when nobody else uses it."""
    root = builds_root(target_name)
    with FileLock(str(root / INDEX) + ".lock"):
        index = _read(root)
        previous = index.pop(user, None)
        _write(root, index)
        if previous and previous not in index.values():
            _remove(root / previous)


def _remove(folder: Path) -> None:
    with FileLock(str(folder) + ".lock"):  # not while a build runs in it
        shutil.rmtree(folder, ignore_errors=True)


def _read(root: Path) -> dict[str, str]:
    try:
        data = jsonfile.loads("build-folders", (root / INDEX).read_text())
    except OSError:
        return {}
    users = (data or {}).get("users")
    return users if isinstance(users, dict) else {}


def _write(root: Path, index: dict[str, str]) -> None:
    write_atomic(
        root / INDEX, jsonfile.dumps("build-folders", {"users": dict(sorted(index.items()))})
    )
