"""result.json of a candidate: each step merges its own fields in.

Building, booting and tracing happen in different fixtures (and under xdist
in different processes), so the file is updated under a lock, by merge.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from filelock import FileLock

from .paths import results_dir


def candidate_dir(cycle: str, candidate: str) -> Path:
    d = results_dir() / cycle / candidate
    d.mkdir(parents=True, exist_ok=True)
    return d


def read_result(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "result.json").read_text())
    except (OSError, ValueError):
        return {}


def update_result(folder: Path, **fields: Any) -> dict[str, Any]:
    path = folder / "result.json"
    with FileLock(str(path) + ".lock"):
        data = read_result(folder)
        data.update(fields)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
    return data
