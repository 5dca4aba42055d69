"""Publishing files that parallel workers share: atomically, and only on change."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` by rename: a reader (another worker) never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
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


def write_if_changed(path: Path, text: str) -> Path:
    """write_atomic, only when the text differs: an unchanged file keeps its mtime,
    so kbuild rebuilds nothing."""
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)
    return path
