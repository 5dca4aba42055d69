"""Skip a build stage whose inputs did not change and whose outputs exist.

Each stage writes a stamp (its fingerprint and the parts that made it) into
its output folder once it completes. The next run compares: same digest and
all outputs present means skipped; anything else means rebuilt, and the
caller decides how much to clean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import jsonfile
from .fingerprint import Fingerprint
from .progress import say

STAMP = ".kqual-stamp.json"


@dataclass
class Stage:
    name: str
    folder: Path
    fingerprint: Fingerprint
    outputs: list[Path]
    prior: dict | None = field(default=None, init=False, repr=False)

    @property
    def stamp(self) -> Path:
        return self.folder / STAMP

    def previous(self) -> dict | None:
        """The last completed build's stamp (kept in memory once begin() removed it)."""
        if self.prior is not None:
            return self.prior
        try:
            return jsonfile.loads("stage", self.stamp.read_text())
        except OSError:
            return None

    def up_to_date(self) -> bool:
        prev = self.previous()
        return (
            prev is not None
            and prev.get("digest") == self.fingerprint.digest
            and all(p.exists() for p in self.outputs)
        )

    def changed_parts(self) -> list[str]:
        """Which named inputs differ from the last completed build."""
        prev = (self.previous() or {}).get("parts", {})
        now = self.fingerprint.parts
        return sorted(k for k in set(prev) | set(now) if prev.get(k) != now.get(k))

    def begin(self) -> bool:
        """True when the stage must run; says why either way."""
        if self.up_to_date():
            say(f"{self.name}: up to date ({self.fingerprint.short}), nothing to rebuild")
            return False
        prev = self.previous()
        if prev is None:
            say(f"{self.name}: building ({self.fingerprint.short})")
        else:
            changed = ", ".join(self.changed_parts()) or "missing outputs"
            say(f"{self.name}: rebuilding ({self.fingerprint.short}), changed: {changed}")
        self.folder.mkdir(parents=True, exist_ok=True)
        # The stamp goes (a half-done build must not look done), but what it said
        # stays known: the caller decides from it how much to clean.
        self.prior = prev
        self.stamp.unlink(missing_ok=True)
        return True

    def done(self) -> None:
        self.stamp.write_text(
            jsonfile.dumps(
                "stage", {"digest": self.fingerprint.digest, "parts": self.fingerprint.parts}
            )
        )
