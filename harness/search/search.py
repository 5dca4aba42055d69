"""The size search: trials, each on its own, then their combination.

Trial i is the i-th proposal (largest expected saving first), so any process
that runs slot i runs the same trial, whether pytest runs serially, on -n
workers or on remote ones. Outcomes are kept under the base image's
fingerprint plus the change (and the workload and this code), each behind
its own lock: whoever gets to a trial first runs it, the others wait and read
its outcome; an interrupted search resumes where it stopped and a rerun with
nothing changed builds nothing.

The passing trials are then combined and the combination qualified again.
When it fails, it is split in halves (largest savings first) and each half is
added to what already passed: the changes that only fail together are found
with a few builds, not one per subset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from ..core import jsonfile
from ..core.fingerprint import Fingerprint
from ..core.paths import cache_dir, resolve
from ..core.progress import say
from ..core.publish import write_atomic
from ..image import build_folders
from ..image.candidate import build_folder
from ..image.kernel_source import prepare_source
from ..kernel.source import ARCH
from ..settings.change import Change, ChangeSource, combined
from ..settings.cycles import CandidateDef
from ..settings.derivation import make
from ..settings.knobs import load_knobs
from ..trace.symbols import SymbolTable
from .footprint import footprints
from .kbuild_map import KbuildMap, prompted_options
from .proposals import base_config_of, patched_knobs, proposals, required_options, trace_changes
from .trial import TrialOutcome, Verdict, timed_evaluate

SEARCH_CODE = (
    "search.search",
    "search.trial",
    "search.proposals",
    "search.footprint",
    "core.jsonfile",
)


@dataclass
class Budget:
    trials: int
    deadline: float | None = None  # time.time() after which no new trial starts

    def expired(self) -> bool:
        return self.deadline is not None and time.time() > self.deadline


@dataclass
class SearchResult:
    outcomes: list[TrialOutcome]  # one per trial run (or skipped by the budget)
    combinations: list[TrialOutcome] = field(default_factory=list)
    accepted: list[TrialOutcome] = field(default_factory=list)  # in the final image
    failed_together: list[str] = field(default_factory=list)  # passed alone, not combined
    values: tuple[tuple[str, str], ...] = ()
    seed: str | None = None  # candidate whose build folder holds the final combination
    skipped: list[dict[str, str]] = field(default_factory=list)  # proposals never tried

    def as_json(self) -> dict[str, Any]:
        return {
            "trials": [o.as_json() for o in self.outcomes],
            "combinations": [o.as_json() for o in self.combinations],
            "accepted": [o.label for o in self.accepted],
            "failed_together": self.failed_together,
            "values": dict(self.values),
            "skipped": self.skipped,
        }


class SizeSearch:
    def __init__(self, runner: Any, budget: Budget) -> None:
        self.runner = runner
        self.cycle = runner.cycle
        self.spec = runner.cycle.search
        self.budget = budget
        self._proposals: list[Change] | None = None
        self._skipped: list[tuple[Change, str]] = []
        self._result: SearchResult | None = None
        self._folder: Path | None = None

    @property
    def base(self) -> str:
        return self.spec.base

    # -- where outcomes live ----------------------------------------------
    def folder(self) -> Path:
        """Where this search's outcomes live; worked out once per process."""
        if self._folder is None:
            self._folder = self._key_folder()
        return self._folder

    def _key_folder(self) -> Path:
        base = self.runner.built(self.base)
        key = (
            Fingerprint()
            .add("base", base.fingerprint)
            .add_text("workload", self.runner.env.workload.sha256)
            .add_code(*SEARCH_CODE, follow=("search",))
        )
        return cache_dir() / "search" / self.runner.env.target.name / key.digest[:24]

    # -- proposals -------------------------------------------------------------
    def proposals(self) -> list[Change]:
        if self._proposals is None:
            self._proposals = self._load_proposals()
        return self._proposals

    def _load_proposals(self) -> list[Change]:
        knobs_path = resolve(self.spec.knobs)
        knobs = load_knobs(knobs_path)
        path = (
            self.folder() / f"proposals-{Change((('K', knobs_path.read_text()),)).digest[:16]}.json"
        )
        with FileLock(str(path) + ".lock"):
            data = jsonfile.loads("proposals", path.read_text()) if path.exists() else None
            if data is not None:
                self._skipped = [(_change(d), d["skip"]) for d in data["skipped"]]
                return [_change(d) for d in data["trials"]]
            ordered, skipped = self._propose(knobs)
            write_atomic(
                path,
                jsonfile.dumps(
                    "proposals",
                    {
                        "trials": [_change_json(c) for c in ordered],
                        "skipped": [_change_json(c) | {"skip": why} for c, why in skipped],
                    },
                ),
            )
            self._skipped = skipped
            return ordered

    def _propose(self, knobs: list[Change]) -> tuple[list[Change], list[tuple[Change, str]]]:
        target = self.runner.env.target
        base = self.runner.built(self.base)
        source = prepare_source(target, base.results)
        say(
            f"{self.cycle.name}: proposing trials from {self.spec.knobs} and the "
            f"'{self.spec.selector}' profile"
        )
        entry = self.runner.profile(self.cycle.baseline, self.spec.selector)
        hits = entry.profile().symbols
        fps = footprints(
            build_folder(target, self.runner.build_name(self.base)),
            KbuildMap.from_tree(source.tree, ARCH),
            SymbolTable.from_vmlinux(base.results / "vmlinux"),
            hits,
            target.cross,
        )
        config = base_config_of(base.results)
        required = required_options(target.fragment_paths)
        traced = trace_changes(
            fps, config, prompted_options(source.tree), required, self.spec.min_bytes
        )
        usable, unmet = patched_knobs(knobs, source.has)
        ordered, skipped = proposals(usable, traced, config)
        return ordered, unmet + skipped

    def slots(self) -> int:
        return min(self.budget.trials, len(self.proposals()))

    # -- trials -----------------------------------------------------------------
    def trial(self, slot: int) -> TrialOutcome | None:
        """The outcome of trial `slot`: cached, run here, or `budget`; None past the list."""
        props = self.proposals()
        if slot >= self.slots():
            return None
        return self._outcome(props[slot], f"trial-{props[slot].slug}", props[slot].values)

    def _outcome(
        self, change: Change, name: str, values: tuple[tuple[str, str], ...]
    ) -> TrialOutcome:
        path = self.folder() / f"{name}.json"
        # Declared even when its outcome is cached: the result's seed may name it,
        # and its build folder is known only from its definition.
        self._declare(name, values)
        with FileLock(str(path) + ".lock"):
            data = jsonfile.loads("trial", path.read_text()) if path.exists() else None
            if data is not None:
                outcome = TrialOutcome.from_json(data)
                say(f"{self.cycle.name}: {name}: {outcome.verdict} (from the search cache)")
                return outcome
            if self.budget.expired():
                return TrialOutcome(
                    change.label,
                    _pairs(values),
                    Verdict.BUDGET,
                    "time budget spent",
                    change.source,
                    change.why,
                )
            say(f"{self.cycle.name}: {name}: trying {change.label}")
            outcome = timed_evaluate(
                self.runner,
                name,
                self.base,
                change.label,
                _pairs(values),
                change.source,
                change.why,
            )
            write_atomic(path, jsonfile.dumps("trial", outcome.as_json()))
            saved = f", saves {outcome.saved_bytes:,} bytes" if outcome.saved_bytes else ""
            say(
                f"{self.cycle.name}: {name}: {outcome.verdict}{saved} ({outcome.seconds:.0f}s)"
                + (f": {outcome.detail}" if outcome.detail else "")
            )
            return outcome

    def _declare(self, name: str, values: tuple[tuple[str, str], ...]) -> None:
        try:
            self.runner.candidate(name)
        except KeyError:
            c = CandidateDef(name=name, base=self.base)
            # As a cycles file would say it: derive: [{options: {set: {...}}}]
            spec = {"options": {"set": dict(values)}}
            c.derivations = [make(spec, self.folder() / f"{name}.json", None, f"trial {name}")]
            self.runner.declare(c)

    # -- the combination -----------------------------------------------------
    def result(self) -> SearchResult:
        if self._result is None:
            self._result = self._search()
        return self._result

    def finished(self) -> SearchResult | None:
        """The result, when result() has run in this process."""
        return self._result

    def _search(self) -> SearchResult:
        outcomes = [o for i in range(self.slots()) if (o := self.trial(i)) is not None]
        passed = sorted((o for o in outcomes if o.accepted), key=lambda o: -(o.saved_bytes or 0))
        result = SearchResult(
            outcomes, skipped=[{"label": c.label, "why": why} for c, why in self._skipped]
        )
        kept: list[TrialOutcome] = []
        seed: str | None = None
        tried: dict[str, TrialOutcome] = {}

        def attempt(items: list[TrialOutcome]) -> bool:
            nonlocal seed
            values = combined([Change(_tuple(o.values)) for o in kept + items])
            change = Change(values, "combination", ChangeSource.COMBINATION)
            name = f"combo-{change.digest[:10]}"
            if name not in tried:
                tried[name] = self._outcome(change, name, values)
                result.combinations.append(tried[name])
            if tried[name].accepted:
                seed = name
            return tried[name].accepted

        def add(items: list[TrialOutcome]) -> None:
            nonlocal kept
            if not items:
                return
            if len(items) == 1 and not kept:
                kept = list(items)  # qualified alone, as its trial: nothing to combine
                return
            if attempt(items):
                kept = kept + items
                return
            if len(items) == 1:
                result.failed_together.append(items[0].label)
                return
            half = (len(items) + 1) // 2
            add(items[:half])
            add(items[half:])

        add(passed)
        if len(kept) == 1 and seed is None:
            seed = f"trial-{Change(_tuple(kept[0].values)).slug}"
        result.accepted = kept
        result.values = combined([Change(_tuple(o.values)) for o in kept])
        result.seed = seed
        return result

    def prune_build_folders(self, keep: set[str]) -> None:
        """Trial folders are not needed once their outcome is kept: free the disk."""
        target = self.runner.env.target
        for c in self.runner.declared():
            if c.name not in keep:
                build_folders.release(target.name, f"{self.cycle.name}/{c.name}")


def _pairs(values: tuple[tuple[str, str], ...]) -> list[list[str]]:
    return [[k, v] for k, v in values]


def _tuple(values: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in values)


def _change_json(c: Change) -> dict[str, Any]:
    return {
        "values": _pairs(c.values),
        "why": c.why,
        "source": c.source,
        "expect_bytes": c.expect_bytes,
        "needs": c.needs,
    }


def _change(d: dict[str, Any]) -> Change:
    return Change(
        _tuple(d["values"]),
        d.get("why", ""),
        ChangeSource(d.get("source", ChangeSource.KNOB)),
        int(d.get("expect_bytes", 0)),
        needs=str(d.get("needs", "")),
    )
