"""Cycles as data: which candidates a cycle qualifies and how they derive."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..core.errors import ConfigError
from ..core.paths import resolve
from .budget import load_budget
from .derivation import Derivation, make
from .files import CYCLES, KNOBS, RULES, SYSCALL_KEEP, TRIM_RULES
from .losses import check_accept_entry
from .schema import SAFE_NAME_RULE, bind, load_yaml, safe_name

DEFAULT_CYCLES = CYCLES


# The regression metrics kqual measures (deterministic under -icount).
METRICS = ("guest_shell_ready_ms",)


@dataclass
class RegressionRule:
    metric: str = field(default="guest_shell_ready_ms", metadata={"choices": METRICS})
    boots: int = field(default=3, metadata={"min": 1})
    tolerance: float = field(default=0.02, metadata={"min": 0})

    def allows(self, baseline: float, candidate: float) -> bool:
        return candidate <= baseline * (1 + self.tolerance)


@dataclass
class Limits:
    """What an image may take. Every candidate but the baseline (the reference) is
    checked; one past a limit is over_budget and not selected."""

    budget: str | None = None  # a budget file: ceilings per subsystem or section
    max_resident_bytes: int | None = field(default=None, metadata={"min": 1})
    min_mem_available: int | None = field(default=None, metadata={"min": 0})  # bytes

    @property
    def any(self) -> bool:
        return any(
            v is not None for v in (self.budget, self.max_resident_bytes, self.min_mem_available)
        )


@dataclass
class CandidateDef:
    name: str
    base: str | None = field(default=None, metadata={"key": "from"})
    fragments: list[str] = field(default_factory=list)
    # What it adds to its parent: derivation names, or {name: {options}}.
    derive: list[Any] = field(default_factory=list)
    derivations: list[Derivation] = field(default_factory=list, init=False, repr=False)
    # Where its derive: entry is, so a later check against the kernel can name it.
    where: tuple[Path, int | None] = field(default=(Path(), None), init=False, repr=False)


@dataclass
class SearchDef:
    """The size_search cycle's search: trials on top of `from`, largest expected saving first."""

    base: str = field(metadata={"key": "from"})
    knobs: str = str(RULES / KNOBS)
    selector: str = "full"  # the profile whose never-run code proposes options
    # The budget; --search-budget overrides it. One pytest item per trial: bounded.
    trials: int = field(default=48, metadata={"min": 1, "max": 1000})  # across rounds
    min_bytes: int = field(default=1024, metadata={"min": 0})  # smaller trace proposals: skipped


EMPTY: Mapping[str, CandidateDef] = MappingProxyType({})


@dataclass
class CycleDef:
    candidates: list[CandidateDef]
    selector: str = "syscalls"
    trim_selector: str = "full"
    trim_rules: str = str(RULES / TRIM_RULES)
    syscall_keep: str = str(RULES / SYSCALL_KEEP)
    regression: RegressionRule = field(default_factory=RegressionRule)
    # A candidate that prunes syscalls the userspace can call is `at_risk` and
    # not selected, unless the cycle accepts that risk.
    accept_at_risk: bool = False
    # What a candidate may give up against the baseline and still be selected:
    # paths under /proc and /sys (with what is under them), 'filesystem NAME',
    # 'device PATH', 'syscall NAME' (harness/boot/losses.py). Anything else it
    # loses makes it at_risk, whatever accept_at_risk says.
    accept_losses: list[str] = field(default_factory=list)
    # Pruned entries print "pruned syscall N called by comm[pid]" once; off:
    # they point at sys_ni_syscall and fail silently.
    pruned_notice: bool = True
    search: SearchDef | None = None
    limits: Limits = field(default_factory=Limits)
    # Trace every candidate with this selector and record its code locality.
    locality_selector: str | None = None
    name: str = ""

    # `more`: candidates a run makes (search trials), built and qualified like
    # the others but not among those the cycle selects from. The run keeps them;
    # the cycle as read never changes.
    def candidate(self, name: str, more: Mapping[str, CandidateDef] = EMPTY) -> CandidateDef:
        for c in self.candidates:
            if c.name == name:
                return c
        if name in more:
            return more[name]
        raise KeyError(name)

    def chain(self, name: str, more: Mapping[str, CandidateDef] = EMPTY) -> list[CandidateDef]:
        """The candidate and its ancestors, root first."""
        out: list[CandidateDef] = []
        c: CandidateDef | None = self.candidate(name, more)
        while c is not None:
            out.insert(0, c)
            c = self.candidate(c.base, more) if c.base else None
        return out

    def derivations(self, name: str, more: Mapping[str, CandidateDef] = EMPTY) -> list[Derivation]:
        """What the candidate and its ancestors add, root first."""
        return [d for c in self.chain(name, more) for d in c.derivations]

    @property
    def baseline(self) -> str:
        return self.candidates[0].name

    def search_result_index(self) -> int | None:
        """Where the candidate carrying the search's result stands (None: no search)."""
        return next(
            (
                i
                for i, c in enumerate(self.candidates)
                if any(d.carries_search for d in c.derivations)
            ),
            None,
        )


@dataclass
class _CyclesFile:
    cycles: dict[str, CycleDef]


def load_cycles(
    path: Path = DEFAULT_CYCLES, selectors: Collection[str] | None = None, rules: Path = RULES
) -> dict[str, CycleDef]:
    """Cycles, checked: names, derivations, files, and (given) the trace selectors.

    A rule file a cycle does not name is the one of that name in `rules`.
    """
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(path, getattr(data, "line", None), "expected a mapping with 'cycles:'")
    cycles = bind(_CyclesFile, data, path).cycles
    if not cycles:
        raise ConfigError(path, getattr(data, "key_lines", {}).get("cycles"), "no cycles declared")
    for name, cycle in cycles.items():
        line = data["cycles"].key_lines.get(name)
        if not safe_name(name):
            raise ConfigError(path, line, f"cycle name {name!r}: use {SAFE_NAME_RULE}")
        cycle.name = name
        raw = data["cycles"][name]
        if "trim_rules" not in raw:
            cycle.trim_rules = str(rules / TRIM_RULES)
        if "syscall_keep" not in raw:
            cycle.syscall_keep = str(rules / SYSCALL_KEEP)
        if cycle.search is not None and "knobs" not in raw["search"]:
            cycle.search.knobs = str(rules / KNOBS)
        names = [c.name for c in cycle.candidates]
        item_lines = getattr(raw.get("candidates"), "item_lines", [line] * len(names))
        if not names:
            raise ConfigError(path, line, f"cycle '{name}' has no candidates")
        for i, n in enumerate(names):
            if not safe_name(n):
                raise ConfigError(
                    path, item_lines[i], f"candidate name {n!r}: use {SAFE_NAME_RULE}"
                )
            if n in names[:i]:
                first = item_lines[names.index(n)]
                raise ConfigError(
                    path,
                    item_lines[i],
                    f"cycle '{name}': candidate '{n}' already declared on line {first}",
                )
        for key in ("selector", "trim_selector", "locality_selector"):
            if getattr(cycle, key) is None:
                continue
            if selectors is not None and getattr(cycle, key) not in selectors:
                raise ConfigError(
                    path,
                    raw.key_lines.get(key, line),
                    f"cycle '{name}': {key} '{getattr(cycle, key)}' is not a selector of "
                    f"configs/rules/trace.yaml (known: {', '.join(selectors)})",
                )
        if cycle.candidates[0].base:
            raise ConfigError(
                path,
                line,
                f"cycle '{name}': the first candidate is the baseline "
                "and cannot derive from another",
            )
        _check_search_section(cycle, path, raw, line, selectors)
        _check_accept_losses(cycle, path, raw, line)
        raw_candidates = raw.get("candidates") or []
        for i, c in enumerate(cycle.candidates):
            raw_c = raw_candidates[i] if i < len(raw_candidates) else {}
            derive_line = getattr(raw_c, "key_lines", {}).get("derive", item_lines[i])
            where = f"cycle '{name}', candidate '{c.name}'"
            c.derivations = [make(spec, path, derive_line, where) for spec in c.derive]
            c.where = (path, derive_line)
            if selectors is not None:
                _check_selectors(c, cycle, selectors, path, derive_line, where)
            if c.base and c.base not in names[:i]:
                raise ConfigError(
                    path,
                    item_lines[i],
                    f"cycle '{name}': candidate '{c.name}' derives "
                    f"from '{c.base}', which is not listed before it",
                )
            raw_frags = raw_c.get("fragments") if isinstance(raw_c, dict) else None
            frag_lines = getattr(raw_frags, "item_lines", [])
            for k, frag in enumerate(c.fragments):
                if not resolve(frag).is_file():
                    at = frag_lines[k] if k < len(frag_lines) else item_lines[i]
                    raise ConfigError(path, at, f"{where}: fragment {frag} not found")
            _check_once(cycle, c, where)
        _check_search_result(cycle, path, raw, line, item_lines)
        if cycle.limits.budget is not None:
            at = getattr(raw.get("limits"), "key_lines", {}).get("budget", line)
            if not resolve(cycle.limits.budget).is_file():
                raise ConfigError(
                    path, at, f"cycle '{name}': budget file {cycle.limits.budget} not found"
                )
            load_budget(resolve(cycle.limits.budget))  # its own errors name its lines
        for key in ("trim_rules", "syscall_keep"):
            if not resolve(getattr(cycle, key)).is_file():
                raise ConfigError(
                    path, line, f"cycle '{name}': {key} file {getattr(cycle, key)} not found"
                )
    return cycles


def _check_accept_losses(cycle: CycleDef, path: Path, raw: Any, line: int | None) -> None:
    raw_list = raw.get("accept_losses") if hasattr(raw, "get") else None
    lines = getattr(raw_list, "item_lines", [])
    for i, entry in enumerate(cycle.accept_losses):
        why = check_accept_entry(entry)
        if why:
            at = lines[i] if i < len(lines) else raw.key_lines.get("accept_losses", line)
            raise ConfigError(path, at, f"cycle '{cycle.name}': accept_losses: {why}")


def _check_once(cycle: CycleDef, c: CandidateDef, where: str) -> None:
    """A derivation that can apply once (a syscall table, a text order) must not
    come twice in a candidate's chain: the later would win without a word."""
    seen: dict[str, str] = {}
    for link in cycle.chain(c.name):
        for d in link.derivations:
            if d.once and d.name in seen:
                first = seen[d.name]
                also = "twice" if first == link.name == c.name else f"and in '{first}'"
                raise ConfigError(
                    *c.where,
                    f"{where}: '{d.name}' applies once per candidate, but it is here {also}: "
                    "only the later would take effect; derive from a candidate without it",
                )
            seen[d.name] = link.name


def _check_selectors(
    c: CandidateDef,
    cycle: CycleDef,
    selectors: Collection[str],
    path: Path,
    line: int | None,
    where: str,
) -> None:
    """Every profile the candidate's derivations read is a selector of trace.yaml."""
    for d in c.derivations:
        for name in d.selectors(cycle):
            if name not in selectors:
                raise ConfigError(
                    path,
                    line,
                    f"{where}: '{d.name}' reads the '{name}' profile, which is not a selector "
                    f"of configs/rules/trace.yaml (known: {', '.join(selectors)})",
                )


def _check_search_section(
    cycle: CycleDef, path: Path, raw: Any, line: int | None, selectors: Collection[str] | None
) -> None:
    """The `search:` section on its own: its base, knobs file and selector."""
    if cycle.search is None:
        return
    where = raw.key_lines.get("search", line) if hasattr(raw, "key_lines") else line
    names = [c.name for c in cycle.candidates]
    if cycle.search.base not in names:
        raise ConfigError(
            path,
            where,
            f"cycle '{cycle.name}': search from '{cycle.search.base}', which is "
            f"not one of its candidates ({', '.join(names)})",
        )
    if not resolve(cycle.search.knobs).is_file():
        raise ConfigError(
            path, where, f"cycle '{cycle.name}': knobs file {cycle.search.knobs} not found"
        )
    if selectors is not None and cycle.search.selector not in selectors:
        raise ConfigError(
            path,
            where,
            f"cycle '{cycle.name}': search selector '{cycle.search.selector}' is "
            f"not a selector of configs/rules/trace.yaml (known: {', '.join(selectors)})",
        )


def _check_search_result(
    cycle: CycleDef, path: Path, raw: Any, line: int | None, item_lines: list[int]
) -> None:
    """The candidate that carries the search's result stands on the search's base:
    the trials were measured there, and it must not be that base itself."""
    carriers = [
        (i, c)
        for i, c in enumerate(cycle.candidates)
        if any(d.carries_search for d in c.derivations)
    ]
    where = raw.key_lines.get("search", line) if hasattr(raw, "key_lines") else line
    if cycle.search is None:
        if carriers:
            raise ConfigError(
                path,
                line,
                f"cycle '{cycle.name}': candidate '{carriers[0][1].name}' derives 'search', "
                "but the cycle has no 'search:' section (from, knobs, trials)",
            )
        return
    if not carriers:
        raise ConfigError(
            path,
            where,
            f"cycle '{cycle.name}' has a search but no candidate derives "
            "'search' to carry its result",
        )
    for i, c in carriers:
        if cycle.search.base == c.name:
            raise ConfigError(
                path,
                where,
                f"cycle '{cycle.name}': the search runs from '{c.name}', the candidate that "
                "carries its result: search from the candidate it derives from",
            )
        if c.base != cycle.search.base:
            raise ConfigError(
                path,
                item_lines[i],
                f"cycle '{cycle.name}': '{c.name}' carries the result of a search run from "
                f"'{cycle.search.base}', but derives from '{c.base}': the trials were "
                f"measured on '{cycle.search.base}'; derive it from there",
            )


# The pytest parameters every cycle gives its candidates; derivations add theirs.
BASE_PARAMS = ("candidate", "derived_candidate", "limited_candidate")


def search_slots(cycles: dict[str, CycleDef], trials: int | None) -> list[tuple[str, str]]:
    """(cycle, slot-NN) for each trial a search may run: one pytest item each, so
    xdist spreads the trials over its workers. Slot i runs the i-th trial, counted
    across the search's rounds."""
    return [
        (cycle.name, f"slot-{i:02d}")
        for cycle in cycles.values()
        if cycle.search is not None
        for i in range(trials or cycle.search.trials)
    ]


def candidate_params(cycles: dict[str, CycleDef]) -> dict[str, list[tuple[str, str]]]:
    """pytest parameter name -> the (cycle, candidate) pairs its tests run on."""
    out: dict[str, list[tuple[str, str]]] = {p: [] for p in BASE_PARAMS}
    for cycle in cycles.values():
        for c in cycle.candidates:
            names = ["candidate"] + (["derived_candidate"] if c.name != cycle.baseline else [])
            if cycle.limits.any and c.name != cycle.baseline:
                names.append("limited_candidate")
            if cycle.locality_selector:
                names.append("locality_candidate")
            for d in cycle.derivations(c.name):
                names += [p for p in d.params() if p not in names]
            for p in names:
                out.setdefault(p, []).append((cycle.name, c.name))
    return out
