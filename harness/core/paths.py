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


def _env_folder(name: str, default: Path) -> Path:
    """A folder an environment variable may move; `~` is expanded. Set but empty
    is an error: it would mean the current folder, which nobody asks for so."""
    value = os.environ.get(name)
    if value is None:
        return default.resolve()
    if not value.strip():
        raise KqualError(f"{name} is set but empty: unset it, or name a folder")
    return Path(value).expanduser().resolve()


def work_dir() -> Path:
    return _env_folder("KQUAL_WORK", ROOT / "work")


def results_dir() -> Path:
    return _env_folder("KQUAL_RESULTS", ROOT / "results")


def cache_dir() -> Path:
    return _env_folder("KQUAL_CACHE", work_dir() / "cache")


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
        try:  # made now: a folder that cannot be made fails here, not after a build
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise KqualError(f"{name}: cannot create {folder}: {e.strerror}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise KqualError(f"{name}: {folder} is not writable by this user")


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
