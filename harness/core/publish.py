"""Publishing files that parallel workers share: atomically, and only on change."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` by rename: a reader (another worker) never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_if_changed(path: Path, text: str) -> Path:
    """write_atomic, only when the text differs: an unchanged file keeps its mtime,
    so kbuild rebuilds nothing."""
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)
    return path
