"""Where kqual reads its inputs and writes its outputs.

Everything generated lives under two ignored folders of the checkout, which
environment variables can move: KQUAL_WORK (sources, builds, caches) and
KQUAL_RESULTS (per-run artifacts people and CI read).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def work_dir() -> Path:
    return Path(os.environ.get("KQUAL_WORK", ROOT / "work")).resolve()


def results_dir() -> Path:
    return Path(os.environ.get("KQUAL_RESULTS", ROOT / "results")).resolve()


def cache_dir() -> Path:
    return Path(os.environ.get("KQUAL_CACHE", work_dir() / "cache")).resolve()


def resolve(path: str | Path, base: Path = ROOT) -> Path:
    """A path from a config file: relative ones are relative to the checkout."""
    p = Path(os.path.expandvars(str(path))).expanduser()
    return p if p.is_absolute() else (base / p)


def cycle_dir(target: str, cycle: str) -> Path:
    """results/<target>/<cycle>: two targets' runs never share a folder."""
    return results_dir() / target / cycle


def candidate_dir(target: str, cycle: str, candidate: str) -> Path:
    d = cycle_dir(target, cycle) / candidate
    d.mkdir(parents=True, exist_ok=True)
    return d
