"""kqual's pytest wiring: options, and the fixtures that build and boot.

The library lives in harness/; fixtures here only connect it to pytest
(options, session scope, JUnit properties) so the same steps can run from a
script too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.candidate import CandidateSpec, build_candidate
from harness.errors import KqualError
from harness.paths import cache_dir, resolve, work_dir
from harness.profile import get_profile
from harness.profile_cache import ProfileCache
from harness.target import default_target_path, load_target
from harness.trace_collect import load_selectors
from harness.workload import load_workload

DEFAULT_WORKLOAD = "configs/workload.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("kqual")
    g.addoption(
        "--target", default=None, help="target YAML (default configs/target.yaml, or $KQUAL_TARGET)"
    )
    g.addoption(
        "--workload",
        default=DEFAULT_WORKLOAD,
        help="workload file: YAML, or label|command|regex lines",
    )
    g.addoption(
        "--boots",
        type=int,
        default=None,
        help="wall-clock boots per candidate (default: the target's boot.boots)",
    )
    g.addoption(
        "--icount-boots",
        type=int,
        default=1,
        help="boots under -icount for the deterministic guest-time figure",
    )
    g.addoption(
        "--profile-cache",
        default=None,
        help="profile cache folder (default: $KQUAL_CACHE/profiles, else work/cache/profiles)",
    )


def _workload_path(config: pytest.Config) -> Path:
    return resolve(config.getoption("--workload"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "workload_step" in metafunc.fixturenames:
        try:
            steps = load_workload(_workload_path(metafunc.config)).steps
        except KqualError as e:
            raise pytest.UsageError(str(e)) from None
        metafunc.parametrize("workload_step", steps, ids=[s.label for s in steps])


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config):
    path = pytestconfig.getoption("--target")
    return load_target(resolve(path) if path else default_target_path())


@pytest.fixture(scope="session")
def workload(pytestconfig: pytest.Config):
    return load_workload(_workload_path(pytestconfig))


@pytest.fixture(scope="session")
def boots(pytestconfig: pytest.Config, target) -> int:
    return pytestconfig.getoption("--boots") or target.boot.boots


@pytest.fixture(scope="session")
def icount_boots(pytestconfig: pytest.Config) -> int:
    return pytestconfig.getoption("--icount-boots")


@pytest.fixture(scope="session")
def baseline(target):
    """The target's own kernel, built once (a lock makes xdist workers share it)."""
    return build_candidate(target, CandidateSpec("baseline", cycle="baseline"))


@pytest.fixture(scope="session")
def profile_cache(pytestconfig: pytest.Config) -> ProfileCache:
    path = pytestconfig.getoption("--profile-cache")
    return ProfileCache(resolve(path) if path else cache_dir() / "profiles")


@pytest.fixture(scope="session")
def selectors():
    return load_selectors()


@pytest.fixture(scope="session")
def baseline_profile(target, baseline, workload, selectors, profile_cache):
    """selector name -> cache entry of the baseline's workload profile."""
    entries = {}

    def get(name: str):
        if name not in entries:
            entries[name] = get_profile(
                target,
                baseline,
                workload,
                name,
                selectors[name],
                profile_cache,
                work_dir() / "traces",
            )
            ProfileCache.materialize(entries[name], baseline.results / f"profile-{name}")
        return entries[name]

    return get
