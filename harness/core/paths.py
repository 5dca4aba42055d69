"""Where kqual reads its inputs and writes its outputs.

Everything generated lives under two ignored folders of the checkout, which
environment variables can move: KQUAL_WORK (sources, builds, caches) and
KQUAL_RESULTS (per-run artifacts people and CI read).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import KqualError

ROOT = Path(__file__).resolve().parent.parent.parent


def work_dir() -> Path:
    return Path(os.environ.get("KQUAL_WORK", ROOT / "work")).resolve()


def results_dir() -> Path:
    return Path(os.environ.get("KQUAL_RESULTS", ROOT / "results")).resolve()


def cache_dir() -> Path:
    return Path(os.environ.get("KQUAL_CACHE", work_dir() / "cache")).resolve()


def check_output_folders(**named: Path) -> None:
    """Each folder kqual writes into is a folder, or can become one: a file there
    would fail a run after its first build. `named`: more, by the name the user
    gave them (`profile_cache=...` for --profile-cache)."""
    folders = {"KQUAL_WORK": work_dir(), "KQUAL_RESULTS": results_dir(), "KQUAL_CACHE": cache_dir()}
    folders |= {f"--{k.replace('_', '-')}": v for k, v in named.items()}
    for name, folder in folders.items():
        blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise KqualError(
                f"{name}: {folder} cannot be a folder, {blocker} is a file; "
                "name a folder (or a path that does not exist yet)"
            )


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
