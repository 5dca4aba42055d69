"""Where kqual reads its inputs and writes its outputs.

Everything generated lives under two folders of the project (the checkout,
or a user's folder made by `kqual init`), which environment variables can
move: KQUAL_WORK (sources, builds, caches) and KQUAL_RESULTS (per-run
artifacts people and CI read).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import KqualError

ROOT = Path(__file__).resolve().parent.parent.parent
PROJECT_MARK = Path("configs") / "cycles.yaml"  # what makes a folder a kqual project
_project: Path | None = None  # a user's project folder; None: the checkout


def is_project(folder: Path) -> bool:
    return (folder / PROJECT_MARK).is_file()


def set_project(folder: Path | None) -> None:
    """Run on a user's project: its inputs first, its work/ and results/."""
    global _project
    _project = None if folder is None or folder.resolve() == ROOT else folder.resolve()


def project_dir() -> Path:
    return _project or ROOT


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
    return _env_folder("KQUAL_WORK", project_dir() / "work")


def results_dir() -> Path:
    return _env_folder("KQUAL_RESULTS", project_dir() / "results")


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


def resolve(path: str | Path, base: Path | None = None) -> Path:
    """A path from a config file: a relative one names the project's file, else
    kqual's own of that name (a project's target inherits our fragments until it
    brings its own); one that is in neither is the project's, for the error."""
    p = Path(os.path.expandvars(str(path))).expanduser()
    if p.is_absolute():
        return p
    if base is not None:
        return base / p
    if _project is not None and not (_project / p).exists() and (ROOT / p).exists():
        return ROOT / p
    return project_dir() / p


def cycle_dir(target: str, cycle: str) -> Path:
    """results/<target>/<cycle>: two targets' runs never share a folder."""
    return results_dir() / target / cycle


def candidate_dir(target: str, cycle: str, candidate: str) -> Path:
    d = cycle_dir(target, cycle) / candidate
    d.mkdir(parents=True, exist_ok=True)
    return d
