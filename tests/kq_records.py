"""Records a run leaves for the selection to read, written by unit tests."""

from __future__ import annotations

from pathlib import Path

from harness.boot.census import CENSUS_FILE, CensusRecord, parse

CENSUS_DIR = Path(__file__).parent / "data" / "census"


def real_census(name: str = "an385-baseline"):
    """An excerpt of a census taken by census.sh on a booted image."""
    path = CENSUS_DIR / f"{name}.txt"
    return parse(path.read_text(), str(path))


def write_census(folder: Path, run_id: str, census=None, syscalls_lost=()) -> None:
    """The candidate's census of this run (the baseline's excerpt unless given)."""
    folder.mkdir(parents=True, exist_ok=True)
    record = CensusRecord(run_id, census or real_census(), list(syscalls_lost))
    (folder / CENSUS_FILE).write_text(record.dumps())
