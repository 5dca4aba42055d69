"""Publishing files that parallel workers share: atomically, and only on change."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def write_atomic(path: Path, text: str | bytes) -> Path:
    """Write `text` by rename: a reader (another worker) never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(text, bytes):
        tmp.write_bytes(text)
    else:
        tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_by_content(folder: Path, name: str, text: str) -> Path:
    """`text` as folder/<stem>-<digest><suffix>: the same content has one name, so
    candidates of any cycle that generate the same input share it (and their
    builds share a key), and a new content never overwrites an old one."""
    stem, dot, suffix = name.partition(".")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return write_if_changed(folder / f"{stem}-{digest}{dot}{suffix}", text)


def write_if_changed(path: Path, text: str | bytes) -> Path:
    """write_atomic, only when the content differs: an unchanged file keeps its
    mtime, so kbuild rebuilds nothing."""
    old = (
        (path.read_bytes() if isinstance(text, bytes) else path.read_text())
        if path.exists()
        else None
    )
    if old != text:
        write_atomic(path, text)
    return path
