"""kqual as a pytest plugin: options, fixtures, and the run's two roles.

Registered through the `pytest11` entry point, so a checkout installed with
pip gives any pytest its options. Every process that runs tests (a plain
run, or each xdist worker) gets a `Session`: settings, candidate parameters,
test order, and the fixtures' state. Only the process that ends the run (a
plain run, or the xdist controller) also gets a `Controller`, which hands the
run's state to workers and selects at the end, as pytest-xdist registers its
DSession on the controller alone. The run's state (run id, search budget)
travels in `config.stash` and `workerinput`, never in the environment.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from .core.errors import CandidateSkipped, KqualError
from .core.paths import ROOT, cache_dir, check_output_folders, is_project, resolve, set_project
from .core.progress import set_writer
from .settings.files import CYCLES, WORKLOAD
from .settings.load import Settings, check_settings, cycles_reached, read_settings
from .settings.target import default_target_path, target_path

DEFAULT_WORKLOAD = str(WORKLOAD.relative_to(ROOT))
DEFAULT_CYCLES = str(CYCLES.relative_to(ROOT))
# Folders of cycle tests: inputs are checked against the installed tools and the
# kernel only when a run collects one of them (a unit run needs neither).
CYCLE_TESTS_INI = "kqual_cycle_tests"
HARNESS_ERROR = "kqual_harness_error"  # user property: a test failed on our bug


@dataclass(frozen=True)
class RunState:
    """What every process of one run must agree on, made once by the controller."""

    run_id: str
    search_trials: int | None = None  # --search-budget's trials, else the cycle's
    search_deadline: float | None = None  # time.time() after which no trial starts

    def to_workerinput(self) -> dict[str, str]:
        return {
            "kqual_run_id": self.run_id,
            "kqual_search_trials": str(self.search_trials or ""),
            "kqual_search_deadline": repr(self.search_deadline or ""),
        }

    @classmethod
    def from_workerinput(cls, data: dict[str, Any]) -> RunState:
        trials = data.get("kqual_search_trials") or ""
        deadline = data.get("kqual_search_deadline") or "''"
        return cls(
            str(data["kqual_run_id"]),
            int(trials) if trials else None,
            float(deadline) if deadline != "''" else None,
        )

    @classmethod
    def new(cls, budget: tuple[int | None, float | None] | None) -> RunState:
        trials, minutes = budget or (None, None)
        deadline = time.time() + minutes * 60 if minutes else None
        return cls(f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}", trials, deadline)


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


MAX_TRIALS = 1000  # one pytest item each: more would only slow collection down


def _search_budget(text: str) -> tuple[int | None, float | None]:
    trials: int | None = None
    minutes: float | None = None
    usage = f"{text!r}: give trials (12), minutes (30m) or both (12,30m)"
    for part in text.split(","):
        part = part.strip()
        try:
            if part.endswith("m"):
                if minutes is not None:
                    raise ValueError
                minutes = float(part[:-1])
                if not 0 < minutes < float("inf"):  # nan and inf fail too
                    raise ValueError
            else:
                if trials is not None:
                    raise ValueError
                trials = _at_least_one(part)
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(usage) from None
    if trials is not None and trials > MAX_TRIALS:
        raise argparse.ArgumentTypeError(f"{text!r}: at most {MAX_TRIALS} trials")
    return trials, minutes


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("kqual", "kqual: kernel qualification under QEMU")
    g.addoption(
        "--target",
        default=None,
        help="target: a name in configs/boards/ (an385, an386) or a YAML file "
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
        default=None,
        metavar="FILE",
        help=f"the cycles file (default {DEFAULT_CYCLES})",
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
    parser.addini(
        CYCLE_TESTS_INI,
        "folders of kqual cycle tests: a run that collects one checks every input "
        "against the installed tools and kernel at start",
        type="paths",
        default=[],
    )
    parser.addini(
        "kqual_require_tools",
        "a test marked needs(...) whose tool is missing fails instead of skipping",
        type="bool",
        default=False,
    )


RUN = pytest.StashKey[RunState]()
SESSION = pytest.StashKey["Session"]()


def run_state(config: pytest.Config) -> RunState:
    return config.stash[RUN]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs(*tools): needs 'qemu', 'cross' (the target's compiler), 'kernel' (its "
        "source) or 'dtc' (fdtput); skipped when one is missing, failed under "
        "kqual_require_tools",
    )
    if config.option.help or config.option.version:
        return
    # A folder of a user's (kqual init): its inputs, its work/ and results/.
    set_project(config.rootpath if is_project(config.rootpath) else None)
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None:
        config.stash[RUN] = RunState.new(config.getoption("--search-budget"))
        config.pluginmanager.register(Controller(config), "kqual-controller")
    else:
        config.stash[RUN] = RunState.from_workerinput(workerinput)
    session = Session.start(config)
    if session is not None:
        config.stash[SESSION] = session
        config.pluginmanager.register(session, "kqual-session")
    _install_progress_writer(config)
    # Keep each candidate's tests on one worker: it boots once and stays up.
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    if workerinput is not None and workerinput.get("kqual_loadgroup"):
        config.option.loadgroup = True  # workers tag node ids with their group


def _install_progress_writer(config: pytest.Config) -> None:
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        return

    def write(line: str) -> None:
        with capman.global_and_fixture_disabled():
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    set_writer(write)


# -- needs(...): tools a test cannot run without -----------------------------
# A test that needs a tool says so with needs(...), and every cycle test needs
# them all (marked below). This is the one place that decides what a missing
# one means: a skip, or a failure under kqual_require_tools (make test).

TOOLS = ("qemu", "cross", "kernel", "dtc")


@functools.cache
def _default_board() -> Any:
    from .settings.target import default_target_path, read_target

    return read_target(default_target_path())


def missing_tool(tool: str) -> str | None:
    """Why `tool` is not here (None when it is), for the default target."""
    if tool not in TOOLS:
        raise pytest.UsageError(f"needs({tool!r}): the tools are {', '.join(TOOLS)}")
    defaults = _default_board()
    if tool == "kernel":
        tarball = defaults.kernel_source
        return None if tarball.exists() else f"the kernel source {tarball} is not there"
    program = {
        "qemu": defaults.qemu.binary,
        "cross": defaults.cross + "gcc",
        "dtc": "fdtput",
    }[tool]
    return None if shutil.which(program) else f"{program} is not installed"


def require_tools(config: pytest.Config, *tools: str) -> None:
    """Skip the running test when a tool is missing (fail, under kqual_require_tools)."""
    for tool in tools:
        why = missing_tool(tool)
        if why is None:
            continue
        if config.getini("kqual_require_tools"):
            pytest.fail(f"needs {tool}: {why} (run .ci/setup)", pytrace=False)
        pytest.skip(f"needs {tool}: {why}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    folders = [Path(p).resolve() for p in config.getini(CYCLE_TESTS_INI)]
    for item in items:
        if any(item.path.is_relative_to(f) for f in folders):
            item.add_marker(pytest.mark.needs(*TOOLS))


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        require_tools(item.config, *mark.args)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A candidate a derivation chose not to build is skipped, with its reason; an
    exception that is neither a candidate's failure nor an assertion is our bug,
    and is marked so the controller writes no selection."""
    report = yield
    # Properties leave this process (xdist's channel, JUnit XML) as plain values:
    # execnet serializes no enum, and a verdict's word is its value.
    report.user_properties = [
        (key, value.value if isinstance(value, Enum) else value)
        for key, value in report.user_properties
    ]
    exc = call.excinfo
    if exc is None:
        return report
    if exc.errisinstance(CandidateSkipped):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {exc.value}")
    elif not exc.errisinstance(
        (
            KqualError,
            AssertionError,
            pytest.skip.Exception,
            pytest.fail.Exception,
            pytest.xfail.Exception,
        )
    ):
        report.user_properties.append((HARNESS_ERROR, f"{exc.typename}: {exc.value}"))
    return report


# -- every process that runs tests -----------------------------------------


def _cycle_tests_collected(config: pytest.Config) -> bool:
    """Does this run collect a cycle test folder (or a folder holding one)?"""
    folders = [Path(p) for p in config.getini(CYCLE_TESTS_INI) if Path(p).is_dir()]
    here = config.invocation_params.dir
    for arg in config.args:
        path = (here / arg.split("::")[0]).resolve()
        for folder in folders:
            folder = folder.resolve()
            if path == folder or folder in path.parents or path in folder.parents:
                return True
    return False


class Session:
    """Settings, candidate parameters and test order for the tests this process runs."""

    def __init__(
        self, config: pytest.Config, settings: Settings, checked: bool, reached: set[str]
    ) -> None:
        self.config = config
        self._settings = settings
        self._checked = checked
        self._reached = reached  # the cycles -k can select: their inputs are checked
        self._params: dict[str, list[tuple[str, str]]] | None = None
        self.collected_cycles = False  # did this process collect a candidate's test?

    @classmethod
    def start(cls, config: pytest.Config) -> Session | None:
        """Read every input; check it against tools and kernel when cycles run.

        None when this folder holds no kqual project (no cycles file) and no
        kqual input was named: the plugin then stays out of the way.
        """
        cycles = config.getoption("--cycles")
        if cycles is None and not (config.rootpath / DEFAULT_CYCLES).is_file():
            tests = [Path(p) for p in config.getini(CYCLE_TESTS_INI) if Path(p).is_dir()]
            if tests:  # the project's cycle tests are here: their inputs must be too
                raise pytest.UsageError(
                    f"{config.rootpath / DEFAULT_CYCLES}: file not found, and {tests[0]} "
                    "holds kqual's cycle tests, which read it: restore it, or name "
                    "another with --cycles FILE"
                )
            return None
        cycles_path = resolve(cycles or DEFAULT_CYCLES)
        target = config.getoption("--target")
        try:
            settings = read_settings(
                target_path(target) if target is not None else default_target_path(),
                resolve(config.getoption("--workload")),
                config.getoption("--keep-syscall"),
                config.getoption("--boots"),
                config.getoption("--icount-boots"),
                cycles_path=cycles_path,
            )
            profile_cache = config.getoption("--profile-cache")
            check_output_folders(
                **({"profile_cache": resolve(profile_cache)} if profile_cache else {})
            )
            checked = _cycle_tests_collected(config)
            reached = cycles_reached(config.option.keyword or "", settings.cycles)
            if checked:
                check_settings(settings, reached)
        except KqualError as e:
            raise pytest.UsageError(str(e)) from None
        return cls(config, settings, checked, reached)

    @property
    def inputs(self) -> Settings:
        """The run's inputs as read, whether or not checked against the tools yet."""
        return self._settings

    def check(self) -> None:
        """Check the inputs against the tools and the kernel, once."""
        if not self._checked:
            check_settings(self._settings, self._reached)
            self._checked = True

    @property
    def settings(self) -> Settings:
        """The run's inputs, checked against the tools and kernel on first need."""
        self.check()
        return self._settings

    @property
    def run(self) -> RunState:
        return run_state(self.config)

    def params(self) -> dict[str, list[tuple[str, str]]]:
        """Computed once per session: collection asks for every test and item."""
        from .settings.cycles import candidate_params, search_slots

        if self._params is None:
            cycles = self._settings.cycles
            params = candidate_params(cycles)
            params["search_slot"] = search_slots(cycles, self.run.search_trials)
            self._params = params
        return self._params

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Candidate tests take a parameter named for the candidates they run on
        (`candidate`, `derived_candidate`, or one a derivation declares)."""
        names = metafunc.fixturenames
        if not any(a in names for a in self.params()) and "workload_step" not in names:
            return
        try:
            self.check()  # a cycle test: every input checked against tools and kernel
        except KqualError as e:
            raise pytest.UsageError(str(e)) from None
        self.collected_cycles = True
        for argname, pairs in self.params().items():
            if argname in names:
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
        if "workload_step" in names:
            steps = self.settings.workload.steps
            metafunc.parametrize("workload_step", steps, ids=[s.label for s in steps])

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Run each candidate's tests together, in cycle order: one live machine at a time.

        A search's trial slots run just before the candidate that carries its result.
        """
        if not self.collected_cycles:
            return
        params = self.params()
        order: dict[tuple[str, str], tuple[str, int, int]] = {}
        last = 1 << 30  # a search with no carrier (refused at load) sorts last
        for cycle in self.settings.cycles.values():
            for i, c in enumerate(cycle.candidates):
                order[(cycle.name, c.name)] = (cycle.name, i, 0)
            result = cycle.search_result_index()
            result = last if result is None else result
            slots = [slot for name, slot in params["search_slot"] if name == cycle.name]
            for n, slot in enumerate(slots):
                order[(cycle.name, slot)] = (cycle.name, result, n - len(slots))

        def key(item: pytest.Item) -> tuple[str, int, int] | None:
            callspec = getattr(item, "callspec", None)
            if callspec is None:
                return None
            pair = next((callspec.params[a] for a in params if a in callspec.params), None)
            return order.get(pair) if pair is not None else None

        keyed = [(key(it), n, it) for n, it in enumerate(items)]
        first = next((n for k, n, _ in keyed if k is not None), None)
        if first is None:
            return
        cand = sorted((k, n, it) for k, n, it in keyed if k is not None)
        rest = [it for k, _, it in keyed if k is None]
        items[:] = rest[:first] + [it for _, _, it in cand] + rest[first:]


def _session(config: pytest.Config) -> Session:
    session = config.stash.get(SESSION, None)
    if session is None:
        raise pytest.UsageError(
            f"kqual: no {DEFAULT_CYCLES} under {config.rootpath}: this folder is not a kqual "
            "project (give --cycles FILE)"
        )
    return session


# -- the process that ends the run -----------------------------------------


class Controller:
    """Hands the run's state to xdist workers; selects and summarizes at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.harness_errors: list[str] = []
        self.texts: list[str] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist: what each worker must agree on (set after it parsed -n)."""
        node.workerinput.update(run_state(self.config).to_workerinput())
        node.workerinput["kqual_loadgroup"] = node.config.option.dist == "loadgroup"

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """A -k that selects nothing (pytest exits 5): name the cycles it could mean."""
        kqual = self.config.stash.get(SESSION, None)
        keyword = self.config.option.keyword
        if kqual is None or not keyword or session.items:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            cycles = ", ".join(kqual.inputs.cycles)
            reporter.write_line(
                f"kqual: -k {keyword!r} selects no test; the cycles are: {cycles} "
                "(pytest -k CYCLE runs one)"
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == HARNESS_ERROR:
                self.harness_errors.append(f"{report.nodeid}: {value}")

    @pytest.hookimpl(tryfirst=True)  # before junitxml writes its file
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Once every worker is done: select and summarize each cycle."""
        kqual = self.config.stash.get(SESSION, None)
        if kqual is None:
            return  # not a kqual project
        from .report.summaries import cycles_run, write_summaries

        # Read-level inputs are enough: a cycle with no record of this run is passed
        # over, so a unit run needs no tool here.
        run_id = run_state(self.config).run_id
        if self.harness_errors:
            if not cycles_run(kqual.inputs, run_id):
                return  # no cycle ran: nothing would have been selected anyway
            self.texts.append(
                "kqual: no selection written: a harness error is not a candidate's verdict\n"
                + "".join(f"  {e}\n" for e in self.harness_errors)
            )
            return
        self.texts += write_summaries(kqual.inputs, run_id, _junit_report(self.config))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for text in self.texts:
            terminalreporter.section("kqual selection")
            terminalreporter.write(text)


def _junit_report(config: pytest.Config) -> Any:
    """The --junitxml report, found among the registered plugins (no private import)."""
    plugins = config.pluginmanager.get_plugins()
    return next((p for p in plugins if hasattr(p, "add_global_property")), None)


# -- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> Settings:
    return _session(pytestconfig).settings


@pytest.fixture(scope="session")
def kqual_run(pytestconfig: pytest.Config) -> RunState:
    """This run's id and search budget, the same in every xdist worker."""
    return run_state(pytestconfig)


@pytest.fixture(scope="session")
def target(settings: Settings) -> Any:
    return settings.target


@pytest.fixture(scope="session")
def workload(settings: Settings) -> Any:
    return settings.workload


@pytest.fixture(scope="session")
def boots(settings: Settings) -> int:
    return settings.boots or settings.target.boot.boots


@pytest.fixture(scope="session")
def icount_boots(settings: Settings) -> int:
    return settings.icount_boots


@pytest.fixture(scope="session")
def records(kqual_run: RunState) -> Any:
    """This run's result records (result.json per candidate)."""
    from .report.results import Records

    return Records(kqual_run.run_id)


@pytest.fixture(scope="session")
def baseline(target: Any, records: Any) -> Any:
    """The target's own kernel, built once (a lock makes xdist workers share it)."""
    from .core.verdicts import StepName
    from .image.candidate import CandidateSpec, build_candidate

    built = build_candidate(target, CandidateSpec("baseline", cycle="baseline"))
    records.step(built.results, StepName.BUILD, True, **built.facts)
    return built


@pytest.fixture(scope="session")
def profile_cache(pytestconfig: pytest.Config) -> Any:
    from .trace.cache import ProfileCache

    path = pytestconfig.getoption("--profile-cache")
    return ProfileCache(resolve(path) if path else cache_dir() / "profiles")


@pytest.fixture(scope="session")
def selectors(settings: Settings) -> Any:
    return settings.selectors


@pytest.fixture(scope="session")
def baseline_profile(
    target: Any, baseline: Any, workload: Any, selectors: Any, profile_cache: Any
) -> Callable[[str], Any]:
    """selector name -> cache entry of the baseline's workload profile."""
    from .trace.profile import get_profile

    entries: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in entries:
            entries[name] = get_profile(
                target, baseline, workload, name, selectors[name], profile_cache
            )
        return entries[name]

    return get


@pytest.fixture(scope="session")
def cycle_runners(
    settings: Settings, profile_cache: Any, records: Any, kqual_run: RunState
) -> Iterator[dict[str, Any]]:
    """cycle name -> CycleRunner; live QEMU sessions are closed at the end."""
    from .cycle_run import CycleRunner, Environment

    env = Environment(
        settings.target,
        settings.workload,
        profile_cache,
        settings.selectors,
        records,
        settings.keep_extra,
        boots=settings.boots,
        icount_boots=settings.icount_boots,
        search_trials=kqual_run.search_trials,
        search_deadline=kqual_run.search_deadline,
    )
    runners = {name: CycleRunner(env, cycle) for name, cycle in settings.cycles.items()}
    yield runners
    for r in runners.values():
        r.close_sessions()
