"""kqual's pytest wiring: options, and the fixtures that build and boot.

The library lives in harness/; fixtures here only connect it to pytest
(options, session scope, JUnit properties) so the same steps can run from a
script too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pytest

from harness.build.candidate import CandidateSpec, build_candidate
from harness.core.errors import CandidateSkipped, KqualError
from harness.core.paths import cache_dir, resolve
from harness.core.progress import set_writer
from harness.cycle_run import CycleRunner, Environment
from harness.report.bloat import bloat_tool
from harness.report.results import cycle_dir
from harness.report.selection import NOT_RUN, decide, render, write_summary
from harness.settings.cycles import candidate_params, search_slots
from harness.settings.load import Settings, load_settings
from harness.settings.target import default_target_path, target_path
from harness.trace.cache import ProfileCache
from harness.trace.profile import get_profile

DEFAULT_WORKLOAD = "configs/workload.yaml"
_SUMMARIES = pytest.StashKey[list]()
_SETTINGS = pytest.StashKey[Settings]()
_PARAMS = pytest.StashKey[dict]()


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _search_budget(text: str) -> tuple[int | None, float | None]:
    trials: int | None = None
    minutes: float | None = None
    for part in text.split(","):
        part = part.strip()
        try:
            if part.endswith("m"):
                minutes = float(part[:-1])
                if minutes <= 0:
                    raise ValueError
            else:
                trials = _at_least_one(part)
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(
                f"{text!r}: give trials (12), minutes (30m) or both (12,30m)"
            ) from None
    return trials, minutes


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("kqual")
    g.addoption(
        "--target",
        default=None,
        help="target: a name in configs/targets/ (an385, an386) or a YAML file "
        "(default an385, or $KQUAL_TARGET)",
    )
    g.addoption(
        "--workload",
        default=DEFAULT_WORKLOAD,
        help="workload file: YAML, or label|command|regex lines",
    )
    g.addoption(
        "--boots",
        type=_at_least_one,
        default=None,
        help="wall-clock boots per candidate (default: the target's boot.boots, or the "
        "cycle's regression.boots)",
    )
    g.addoption(
        "--icount-boots",
        type=_at_least_one,
        default=1,
        help="boots under -icount for the deterministic guest-time figure",
    )
    g.addoption(
        "--keep-syscall",
        action="append",
        default=[],
        metavar="NAME_OR_NR",
        help="keep this syscall in pruned tables (repeatable)",
    )
    g.addoption(
        "--cycles",
        default="configs/cycles.yaml",
        metavar="FILE",
        help="the cycles file (default configs/cycles.yaml)",
    )
    g.addoption(
        "--search-budget",
        type=_search_budget,
        default=None,
        metavar="TRIALS|MINUTESm|TRIALS,MINUTESm",
        help="bound the size_search cycle: trials (12), minutes after the session "
        "starts when no new trial begins (30m), or both (12,30m); default: the cycle's "
        "search.trials",
    )
    g.addoption(
        "--profile-cache",
        default=None,
        help="profile cache folder (default: $KQUAL_CACHE/profiles, else work/cache/profiles)",
    )


def _workload_path(config: pytest.Config) -> Path:
    return resolve(config.getoption("--workload"))


def _settings(config: pytest.Config) -> Settings:
    return config.stash[_SETTINGS]


def pytest_configure(config: pytest.Config) -> None:
    # One id for the whole run, shared with xdist workers (local ones through the
    # environment, remote ones through workerinput), so the selection reads only
    # results this run wrote. The search's deadline travels the same way.
    workerinput = getattr(config, "workerinput", None) or {}
    for key in ("KQUAL_RUN_ID", "KQUAL_SEARCH_DEADLINE"):
        if workerinput.get(key):
            os.environ[key] = workerinput[key]
    os.environ.setdefault("KQUAL_RUN_ID", f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    _trials, minutes = config.getoption("--search-budget") or (None, None)
    if minutes and not workerinput:
        os.environ["KQUAL_SEARCH_DEADLINE"] = str(time.time() + minutes * 60)
    # Every input is checked before anything runs (--collect-only too).
    target = config.getoption("--target")
    try:
        config.stash[_SETTINGS] = load_settings(
            target_path(target) if target else default_target_path(),
            _workload_path(config),
            config.getoption("--keep-syscall"),
            config.getoption("--boots"),
            config.getoption("--icount-boots"),
            cycles_path=resolve(config.getoption("--cycles")),
        )
    except KqualError as e:
        raise pytest.UsageError(str(e)) from None
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:

        def write(line: str) -> None:
            with capman.global_and_fixture_disabled():
                sys.stderr.write(line + "\n")
                sys.stderr.flush()

        set_writer(write)
    # Keep each candidate's tests on one worker: it boots once and stays up.
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    if workerinput.get("kqual_loadgroup"):
        config.option.loadgroup = True  # workers tag node ids with their group


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist: tell each worker that the run groups tests (set after it parsed -n)."""
    node.workerinput["kqual_loadgroup"] = node.config.option.dist == "loadgroup"
    for key in ("KQUAL_RUN_ID", "KQUAL_SEARCH_DEADLINE"):
        node.workerinput[key] = os.environ.get(key, "")


def _candidate_params(config: pytest.Config) -> dict[str, list[tuple[str, str]]]:
    """Computed once per session: collection asks for every test and item."""
    if _PARAMS not in config.stash:
        params = candidate_params(_settings(config).cycles)
        params["search_slot"] = search_slots(_settings(config).cycles, _search_trials(config))
        config.stash[_PARAMS] = params
    return config.stash[_PARAMS]


def _search_trials(config: pytest.Config) -> int | None:
    return (config.getoption("--search-budget") or (None, None))[0]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Candidate tests take a parameter named for the candidates they run on
    (`candidate`, `derived_candidate`, or one a derivation declares)."""
    for argname, pairs in _candidate_params(metafunc.config).items():
        if argname in metafunc.fixturenames:
            metafunc.parametrize(
                argname,
                [
                    pytest.param(
                        pair,
                        id=f"{pair[0]}-{pair[1]}",
                        marks=pytest.mark.xdist_group(f"{pair[0]}-{pair[1]}"),
                    )
                    for pair in pairs
                ],
            )
    if "workload_step" in metafunc.fixturenames:
        steps = _settings(metafunc.config).workload.steps
        metafunc.parametrize("workload_step", steps, ids=[s.label for s in steps])


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> Settings:
    return _settings(pytestconfig)


@pytest.fixture(scope="session")
def target(settings):
    return settings.target


@pytest.fixture(scope="session")
def workload(settings):
    return settings.workload


@pytest.fixture(scope="session")
def boots(settings) -> int:
    return settings.boots or settings.target.boot.boots


@pytest.fixture(scope="session")
def icount_boots(settings) -> int:
    return settings.icount_boots


@pytest.fixture(scope="session")
def baseline(target):
    """The target's own kernel, built once (a lock makes xdist workers share it)."""
    return build_candidate(target, CandidateSpec("baseline", cycle="baseline"))


@pytest.fixture(scope="session")
def profile_cache(pytestconfig: pytest.Config) -> ProfileCache:
    path = pytestconfig.getoption("--profile-cache")
    return ProfileCache(resolve(path) if path else cache_dir() / "profiles")


@pytest.fixture(scope="session")
def selectors(settings):
    return settings.selectors


@pytest.fixture(scope="session")
def baseline_profile(target, baseline, workload, selectors, profile_cache):
    """selector name -> cache entry of the baseline's workload profile."""
    entries = {}

    def get(name: str):
        if name not in entries:
            entries[name] = get_profile(
                target, baseline, workload, name, selectors[name], profile_cache
            )
        return entries[name]

    return get


@pytest.fixture(scope="session")
def cycle_runners(settings, profile_cache, pytestconfig):
    """cycle name -> CycleRunner; live QEMU sessions are closed at the end."""
    env = Environment(
        settings.target,
        settings.workload,
        profile_cache,
        settings.selectors,
        os.environ["KQUAL_RUN_ID"],
        settings.keep_extra,
        boots=settings.boots,
        icount_boots=settings.icount_boots,
        search_trials=_search_trials(pytestconfig),
        search_deadline=float(os.environ.get("KQUAL_SEARCH_DEADLINE") or 0) or None,
    )
    runners = {name: CycleRunner(env, cycle) for name, cycle in settings.cycles.items()}
    yield runners
    for r in runners.values():
        r.close_sessions()


@pytest.hookimpl(tryfirst=True)  # before junitxml writes its file
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """On the controller only, once every worker is done: select and summarize."""
    if hasattr(session.config, "workerinput"):
        return
    run_id = os.environ.get("KQUAL_RUN_ID", "")
    texts = []
    if _SETTINGS not in session.config.stash:
        return
    cycles = _settings(session.config).cycles
    xml = _junit_report(session.config)
    target = _settings(session.config).target
    bloat = bloat_tool(target)

    for name, cycle in cycles.items():
        summary = write_summary(cycle, cycle_dir(target.name, name), run_id, bloat)
        if not summary:
            decisions = decide(cycle, cycle_dir(target.name, name), run_id)
            if decisions:
                done = [d.candidate for d in decisions if d.reason != NOT_RUN]
                texts.append(
                    f"cycle {name}: {len(done)} of {len(cycle.candidates)} candidates went "
                    "through every step in this session; no selection written\n"
                )
            continue
        texts.append(render(summary))
        if xml is not None:
            xml.add_global_property(f"{name}.selected", summary["selected"] or "")
            for cand, d in summary["candidates"].items():
                for key in (
                    "reason",
                    "linux_axf_bytes",
                    "shell_ready_ms",
                    "guest_shell_ready_ms",
                    "delta_bytes",
                ):
                    xml.add_global_property(f"{name}.{cand}.{key}", d[key])
    session.config.stash[_SUMMARIES] = texts


def _junit_report(config: pytest.Config):
    """The --junitxml report, found among the registered plugins (no private import)."""
    plugins = config.pluginmanager.get_plugins()
    return next((p for p in plugins if hasattr(p, "add_global_property")), None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A candidate a derivation chose not to build is skipped, with its reason."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(CandidateSkipped):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {call.excinfo.value}")
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    for text in config.stash.get(_SUMMARIES, []):
        terminalreporter.section("kqual selection")
        terminalreporter.write(text)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run each candidate's tests together, in cycle order: one live machine at a time."""
    order = {}
    for cycle in _settings(config).cycles.values():
        for i, c in enumerate(cycle.candidates):
            order[(cycle.name, c.name)] = (cycle.name, i, 0)
        # Trials run before the candidate that carries the search's result.
        result = next(
            (
                i
                for i, c in enumerate(cycle.candidates)
                if any(d.name == "search" for d in c.derivations)
            ),
            None,
        )
        for n, (_, slot) in enumerate(
            p for p in _candidate_params(config)["search_slot"] if p[0] == cycle.name
        ):
            order[(cycle.name, slot)] = (cycle.name, result, -1000 + n)
    keyed = [(order.get(_candidate_of(it)), n, it) for n, it in enumerate(items)]
    first = next((n for k, n, _ in keyed if k is not None), None)
    if first is None:
        return
    cand = sorted((k, n, it) for k, n, it in keyed if k is not None)
    rest = [it for k, _, it in keyed if k is None]
    items[:] = rest[:first] + [it for _, _, it in cand] + rest[first:]


def _candidate_of(item: pytest.Item):
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    params = _candidate_params(item.config)
    return next((callspec.params[a] for a in params if a in callspec.params), None)
