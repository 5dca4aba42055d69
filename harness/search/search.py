"""The size search: rounds of trials, each change on its own, then the ones
that passed together.

Round 1 tries the proposals (largest expected saving first) on top of the
search's base. Each later round starts from the previous round's best image
and proposes again from its .config and build, knobs and never-run options
alike (a knob that overlapped an accepted one gets its turn there); a change
is tried once, unless a boot regression was all that rejected it: then it is
tried again on a later base that boots faster than the one it was tried on.
The search ends when a round accepts nothing, nothing new is proposed, or
the budget is spent.

Trials are numbered across rounds: slot i is always the same trial, whether
pytest runs serially, on -n workers or on remote ones, because round r+1
follows from round r's outcomes alone. Outcomes are kept under the base
image's fingerprint plus the change (and the workload and this code), each
behind its own lock: whoever gets to a trial first runs it, the others wait
and read its outcome; an interrupted search resumes where it stopped and a
rerun with nothing changed builds nothing. A process that needs a finished
round runs the round's trials nobody holds first and waits for the rest.

The passing trials of a round are combined and the combination qualified
again. When it fails, it is split in halves (largest savings first) and each
half is added to what already passed: the changes that only fail together
are found with a few builds, not one per subset.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

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
from .proposals import (
    ALREADY_SET,
    base_config_of,
    patched_knobs,
    proposals,
    required_options,
    trace_changes,
)
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
class Round:
    """One round: each change on its own on top of `base`, then those that passed."""

    number: int
    base: str  # the candidate its trials start from: the search's base, then a round's best
    prior: tuple[tuple[str, str], ...]  # what the earlier rounds accepted (all in `base`)
    changes: list[Change]  # its trials, in slot order, as many as the budget leaves
    first_slot: int  # the slot of changes[0]

    def name(self, change: Change) -> str:
        """Round 1's trials keep their plain names; a later one names its base."""
        if self.number == 1:
            return f"trial-{change.slug}"
        return f"r{self.number}-{Change(self.prior).digest[:6]}-{change.slug}"

    @property
    def end(self) -> int:
        return self.first_slot + len(self.changes)


@dataclass
class RoundResult:
    outcomes: list[TrialOutcome]
    combinations: list[TrialOutcome] = field(default_factory=list)
    kept: list[TrialOutcome] = field(default_factory=list)
    failed_together: list[str] = field(default_factory=list)
    seed: str | None = None  # the candidate holding what the round kept, on top of its base
    saved_bytes: int = 0  # the seed's linux.axf against the round's base, as measured
    seed_ms: float | None = None  # the seed's guest shell-ready time


@dataclass
class SearchResult:
    outcomes: list[TrialOutcome]  # one per trial run (or skipped by the budget)
    combinations: list[TrialOutcome] = field(default_factory=list)
    accepted: list[TrialOutcome] = field(default_factory=list)  # in the final image
    failed_together: list[str] = field(default_factory=list)  # passed alone, not combined
    values: tuple[tuple[str, str], ...] = ()
    seed: str | None = None  # candidate whose build folder holds the final combination
    skipped: list[dict[str, str]] = field(default_factory=list)  # proposals never tried
    rounds: list[dict[str, Any]] = field(default_factory=list)  # what each round did

    def as_json(self) -> dict[str, Any]:
        return {
            "trials": [o.as_json() for o in self.outcomes],
            "combinations": [o.as_json() for o in self.combinations],
            "accepted": [o.label for o in self.accepted],
            "failed_together": self.failed_together,
            "values": dict(self.values),
            "skipped": self.skipped,
            "rounds": self.rounds,
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
        self._rounds: list[Round] = []
        self._finished: dict[int, RoundResult] = {}
        self._over = False  # no round follows the last one in _rounds

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
        # What judges a trial is in the key too: another list of accepted losses
        # or another tolerance gives other verdicts, never the cached ones.
        judged_by = json.dumps(
            {
                "accept_losses": sorted(self.cycle.accept_losses),
                "regression": asdict(self.cycle.regression),
            },
            sort_keys=True,
        )
        key = (
            Fingerprint()
            .add("base", base.fingerprint)
            .add_text("workload", self.runner.env.workload.sha256)
            .add_text("judged-by", judged_by)
            .add_code(*SEARCH_CODE, follow=("search",))
        )
        return cache_dir() / "search" / self.runner.env.target.name / key.digest[:24]

    # -- proposals -------------------------------------------------------------
    def proposals(self) -> list[Change]:
        """Round 1's proposals, on the search's base."""
        if self._proposals is None:
            self._proposals, self._skipped = self._load_proposals(self.base, ())
        return self._proposals

    def _load_proposals(
        self, base: str, prior: tuple[tuple[str, str], ...]
    ) -> tuple[list[Change], list[tuple[Change, str]]]:
        """Worked out by one process per round and kept: every worker tries the same."""
        knobs_path = resolve(self.spec.knobs)
        knobs = load_knobs(knobs_path)
        key = Change((("K", knobs_path.read_text()), *prior)).digest[:16]
        path = self.folder() / f"proposals-{key}.json"
        with FileLock(str(path) + ".lock"):
            data = jsonfile.loads("proposals", path.read_text()) if path.exists() else None
            if data is not None:
                skipped = [(_change(d), d["skip"]) for d in data["skipped"]]
                return [_change(d) for d in data["trials"]], skipped
            ordered, skipped = self._propose(knobs, base)
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
            return ordered, skipped

    def _propose(
        self, knobs: list[Change], base_name: str
    ) -> tuple[list[Change], list[tuple[Change, str]]]:
        target = self.runner.env.target
        base = self.runner.built(base_name)
        source = prepare_source(target, base.results)
        say(
            f"{self.cycle.name}: proposing trials on {base_name} from {self.spec.knobs} "
            f"and the '{self.spec.selector}' profile"
        )
        entry = self.runner.profile(self.cycle.baseline, self.spec.selector)
        hits = entry.profile().symbols
        fps = footprints(
            build_folder(target, self.runner.build_name(base_name)),
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
        """Round 1's trials: the slots every search runs before it can go on."""
        return len(self._first_round().changes)

    # -- rounds -----------------------------------------------------------------
    def _first_round(self) -> Round:
        if not self._rounds:
            changes = self.proposals()[: self.budget.trials]
            self._rounds.append(Round(1, self.base, (), changes, 0))
        return self._rounds[0]

    def _next_round(self, rnd: Round) -> Round | None:
        """The round after `rnd` (which is run to its end first), or None: the search is over."""
        if rnd.number < len(self._rounds):
            return self._rounds[rnd.number]
        if self._over:
            return None
        done = self.finish(rnd)
        left = self.budget.trials - rnd.end
        if not done.kept or done.seed is None or left <= 0 or self.budget.expired():
            self._over = True
            return None
        prior = combined([Change(rnd.prior), *(Change(_tuple(o.values)) for o in done.kept)])
        tried = {c.digest for r in self._rounds for c in r.changes}
        proposed, skipped = self._load_proposals(done.seed, prior)
        fresh = [c for c in proposed if c.digest not in tried]
        changes = (fresh + self._retries(done.seed_ms))[:left]
        number = rnd.number + 1
        # what an earlier round accepted is in the new base: no news in the skipped list
        self._skipped += [(c, f"round {number}: {why}") for c, why in skipped if why != ALREADY_SET]
        if not changes:
            self._over = True
            return None
        nxt = Round(number, done.seed, prior, changes, rnd.end)
        self._rounds.append(nxt)
        say(
            f"{self.cycle.name}: round {number}: {len(changes)} trial(s) on {done.seed} "
            f"({len(prior)} option(s) accepted so far)"
        )
        return nxt

    def _retries(self, new_base_ms: float | None) -> list[Change]:
        """Changes rejected only for a boot regression, tried again on a base that
        boots faster than the one they were last tried on: what they cost in time
        may fit the tolerance now (a zImage's decompressor on a smaller kernel)."""
        if new_base_ms is None:
            return []
        last: dict[str, tuple[Change, TrialOutcome, float | None]] = {}
        for r in self._rounds:
            base_ms = self._base_ms(r)
            for change, outcome in zip(r.changes, self.finish(r).outcomes, strict=True):
                last[change.digest] = (change, outcome, base_ms)
        return [
            change
            for change, outcome, base_ms in last.values()
            if outcome.verdict == Verdict.REGRESSION
            and base_ms is not None
            and new_base_ms < base_ms
        ]

    def _base_ms(self, rnd: Round) -> float | None:
        """The guest time of the round's base: the search's base, or the best of
        the round before (as its outcome measured it)."""
        if rnd.number == 1:
            return self.runner.metric(self.base)
        return self.finish(self._rounds[rnd.number - 2]).seed_ms

    def _round_of(self, slot: int) -> Round | None:
        rnd: Round | None = self._first_round()
        while rnd is not None and slot >= rnd.end:
            rnd = self._next_round(rnd)
        return rnd

    # -- trials -----------------------------------------------------------------
    def trial(self, slot: int) -> TrialOutcome | None:
        """The outcome of trial `slot`: cached, run here, or `budget`; None past the
        search's end. A slot of a later round first needs the rounds before it."""
        if slot >= self.budget.trials:
            return None
        rnd = self._round_of(slot)
        if rnd is None:
            return None
        change = rnd.changes[slot - rnd.first_slot]
        return self._outcome(change, rnd.name(change), change.values, rnd)

    def _outcome(
        self,
        change: Change,
        name: str,
        values: tuple[tuple[str, str], ...],
        rnd: Round,
        wait: bool = True,
    ) -> TrialOutcome | None:
        """The trial's outcome; None when `wait` is off and another process holds it."""
        path = self.folder() / f"{name}.json"
        # Declared even when its outcome is cached: the result's seed may name it,
        # and its build folder is known only from its definition.
        self._declare(name, values, rnd.base)
        lock = FileLock(str(path) + ".lock", timeout=-1 if wait else 0)
        try:
            lock.acquire()
        except Timeout:
            return None
        try:
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
                    round=rnd.number,
                )
            say(f"{self.cycle.name}: {name}: trying {change.label} on {rnd.base}")
            outcome = timed_evaluate(
                self.runner,
                name,
                rnd.base,
                change.label,
                _pairs(values),
                change.source,
                change.why,
            )
            outcome.round = rnd.number
            write_atomic(path, jsonfile.dumps("trial", outcome.as_json()))
            saved = f", saves {outcome.saved_bytes:,} bytes" if outcome.saved_bytes else ""
            say(
                f"{self.cycle.name}: {name}: {outcome.verdict}{saved} ({outcome.seconds:.0f}s)"
                + (f": {outcome.detail}" if outcome.detail else "")
            )
            return outcome
        finally:
            lock.release()

    def _declare(self, name: str, values: tuple[tuple[str, str], ...], base: str) -> None:
        try:
            self.runner.candidate(name)
        except KeyError:
            c = CandidateDef(name=name, base=base)
            # As a cycles file would say it: derive: [{options: {set: {...}}}]
            spec = {"options": {"set": dict(values)}}
            c.derivations = [make(spec, self.folder() / f"{name}.json", None, f"trial {name}")]
            self.runner.declare(c)

    # -- a round to its end: its trials, then their combination -----------------------
    def finish(self, rnd: Round) -> RoundResult:
        if rnd.number not in self._finished:
            self._finished[rnd.number] = self._finish(rnd)
        return self._finished[rnd.number]

    def _run_all(self, rnd: Round) -> list[TrialOutcome]:
        """Every trial of the round: first those nobody else holds, last slot first
        (the slot items go first slot first: the two meet halfway instead of one
        waiting on each trial the other has just taken), then wait for the rest."""
        got: dict[int, TrialOutcome] = {}
        for wait in (False, True):
            for i in reversed(range(len(rnd.changes))):
                if i in got:
                    continue
                change = rnd.changes[i]
                o = self._outcome(change, rnd.name(change), change.values, rnd, wait)
                if o is not None:
                    got[i] = o
        return [got[i] for i in range(len(rnd.changes))]

    def _finish(self, rnd: Round) -> RoundResult:
        outcomes = self._run_all(rnd)
        passed = sorted(
            (o for o in outcomes if o.accepted and (o.saved_bytes or 0) > 0),
            key=lambda o: -(o.saved_bytes or 0),
        )
        result = RoundResult(outcomes)
        kept: list[TrialOutcome] = []
        tried: dict[str, TrialOutcome] = {}

        def attempt(items: list[TrialOutcome]) -> bool:
            values = combined([Change(_tuple(o.values)) for o in kept + items])
            change = Change(values, "combination", ChangeSource.COMBINATION)
            name = f"combo-{Change(combined([Change(rnd.prior), change])).digest[:10]}"
            if name not in tried:
                outcome = self._outcome(change, name, values, rnd)
                assert outcome is not None  # waited for
                tried[name] = outcome
                result.combinations.append(outcome)
            if tried[name].accepted:
                result.seed = name
                result.saved_bytes = tried[name].saved_bytes or 0
                result.seed_ms = tried[name].guest_ms
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
        if len(kept) == 1 and result.seed is None:
            result.seed = rnd.name(Change(_tuple(kept[0].values)))
            result.saved_bytes = kept[0].saved_bytes or 0
            result.seed_ms = kept[0].guest_ms
        result.kept = kept
        return result

    # -- the whole search ----------------------------------------------------------
    def result(self) -> SearchResult:
        if self._result is None:
            self._result = self._search()
        return self._result

    def finished(self) -> SearchResult | None:
        """The result, when result() has run in this process."""
        return self._result

    def _search(self) -> SearchResult:
        rnd: Round | None = self._first_round()
        done: list[tuple[Round, RoundResult]] = []
        while rnd is not None:
            done.append((rnd, self.finish(rnd)))
            rnd = self._next_round(rnd)
        result = SearchResult(
            [o for _, r in done for o in r.outcomes],
            combinations=[o for _, r in done for o in r.combinations],
            accepted=[o for _, r in done for o in r.kept],
            failed_together=[x for _, r in done for x in r.failed_together],
            skipped=[{"label": c.label, "why": why} for c, why in self._skipped],
        )
        result.values = combined([Change(_tuple(o.values)) for o in result.accepted])
        result.seed = next((r.seed for _, r in reversed(done) if r.seed), None)
        result.rounds = [
            {
                "round": rnd.number,
                "base": rnd.base,
                "trials": len(r.outcomes),
                "accepted": [o.label for o in r.kept],
                "saved_bytes": r.saved_bytes,
                "best": r.seed,
            }
            for rnd, r in done
        ]
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
