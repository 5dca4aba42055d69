"""kqual as an installed pytest plugin: its options anywhere, one run state in every
process, the controller's role on the controller only, and a harness bug that
stops the selection."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.plugin import RunState, _cycle_tests_collected

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KQUAL_"))}
    return env | {"PYTHONDONTWRITEBYTECODE": "1"}


def _pytest(
    cwd: Path, *args: str, python: str = sys.executable, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """pytest in `cwd`, its own rootdir; the plugin comes from the installed entry point."""
    return subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", f"--rootdir={cwd}", *args],
        cwd=cwd,
        env=_env() | (env or {}),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_installed_checkout_gives_pytest_its_options_in_an_empty_folder(tmp_path):
    """pip install of the checkout into a new virtual environment; pytest --help in a
    folder with nothing in it lists kqual's options, from the entry point alone."""
    # A copy, so the build writes nothing into the checkout.
    source = tmp_path / "kqual"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "harness", source / "harness", ignore=shutil.ignore_patterns("__py*"))
    env_dir = tmp_path / "venv"
    # The environment's own pip installs the checkout; pytest and the other
    # dependencies come from this interpreter's site-packages (no download).
    # Those of this interpreter, which may itself be a virtual environment:
    # system_site_packages would give the base interpreter's instead.
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = str(env_dir / "bin" / "python")
    own = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(own) / "parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
        + ["--disable-pip-version-check", str(source)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    probe = subprocess.run(
        [
            python,
            "-c",
            "import harness.plugin as p, importlib.metadata as m; print(p.__file__); print(sorted("
            "{e.value for e in m.entry_points(group='pytest11') if e.name == 'kqual'}))",
        ],
        cwd=empty,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    where, entry = probe.stdout.splitlines()
    assert Path(where).is_relative_to(env_dir), where  # the environment's copy, not ours
    assert entry == "['harness.plugin']"
    out = _pytest(empty, "--help", python=python)
    assert out.returncode == 0, out.stderr
    for option in ("kqual: kernel qualification", "--target", "--search-budget", "--cycles"):
        assert option in out.stdout
    assert not {"work", "results"} & {p.name for p in empty.iterdir()}  # kqual wrote nothing


RUN_STATE_TEST = """
import json, os
from pathlib import Path

def test_a(kqual_run, request):
    _write(kqual_run, request, "a")

def test_b(kqual_run, request, record_property):
    from harness.search.trial import Verdict

    record_property("verdict", Verdict.ACCEPTED)  # an enum crosses xdist's channel
    _write(kqual_run, request, "b")

def _write(run, request, name):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "none")
    data = {
        "run_id": run.run_id, "trials": run.search_trials, "deadline": run.search_deadline,
        "env": sorted(k for k in os.environ if k.startswith("KQUAL_RUN")),
        "controller_here": request.config.pluginmanager.get_plugin("kqual-controller") is not None,
    }
    (Path(__file__).parent / f"{worker}-{name}.json").write_text(json.dumps(data))
"""


def test_workers_share_the_controllers_run_state_and_only_it_selects(tmp_path):
    (tmp_path / "test_state.py").write_text(RUN_STATE_TEST)
    xml = tmp_path / "report.xml"
    out = _pytest(
        tmp_path, "-n", "2", "--search-budget", "3,5m", f"--junitxml={xml}", "test_state.py"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert '<property name="verdict" value="accepted"' in xml.read_text()
    seen = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("gw*.json"))]
    assert {p.name.split("-")[0] for p in tmp_path.glob("gw*.json")} == {"gw0", "gw1"}
    assert len({d["run_id"] for d in seen}) == 1
    assert {d["trials"] for d in seen} == {3} and len({d["deadline"] for d in seen}) == 1
    assert all(d["env"] == [] and not d["controller_here"] for d in seen)


def test_run_state_round_trips_through_workerinput():
    for state in (RunState("r1"), RunState("r2", 4, 1.5e9)):
        assert RunState.from_workerinput(state.to_workerinput()) == state


HARNESS_BUG_TEST = """
from harness.core.errors import StepError
from harness.core.paths import candidate_dir
from harness.core.verdicts import StepName
from harness.report.results import Records

def test_our_bug(kqual_run):
    folder = candidate_dir("mps2-an385", "syscall_prune", "baseline")
    Records(kqual_run.run_id).step(folder, StepName.BUILD, True)  # a cycle ran
    {}.nosuch()

def test_a_candidates_failure(kqual_run):
    raise StepError("kernel build", None, "", "make exited 2")
"""


def test_a_harness_bug_is_an_error_with_its_traceback_and_stops_the_selection(tmp_path):
    (tmp_path / "test_bug.py").write_text(HARNESS_BUG_TEST)
    out = _pytest(
        tmp_path,
        "--cycles",
        str(ROOT / "configs" / "cycles.yaml"),
        "test_bug.py",
        env={"KQUAL_RESULTS": str(tmp_path / "results")},
    )
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert ">       {}.nosuch()" in text and "AttributeError" in text  # pytest's own traceback
    assert "no selection written: a harness error is not a candidate's verdict" in text
    assert "test_bug.py::test_our_bug: AttributeError" in text
    assert "test_a_candidates_failure:" not in text.split("kqual selection")[1]


@pytest.mark.parametrize(
    "args,collected",
    [
        (["tests", "test_trace_parser"], False),
        (["tests/test_plugin.py::test_run_state_round_trips_through_workerinput"], False),
        (["test_cycles"], True),
        (["test_cycles/test_candidates.py::test_builds"], True),
        (["."], True),
        ([str(ROOT)], True),
    ],
)
def test_inputs_meet_the_tools_only_when_cycle_tests_are_collected(args, collected):
    config = SimpleNamespace(
        args=args,
        invocation_params=SimpleNamespace(dir=ROOT),
        getini=lambda name: [ROOT / "test_cycles"],
    )
    assert _cycle_tests_collected(config) is collected  # type: ignore[arg-type]


def test_k_reaches_the_cycles_it_names_and_a_test_name_reaches_all():
    """Whose kernel-bound inputs a run checks: a knob only a newer kernel has must
    not stop `-k syscall_prune` on an older one."""
    from harness.settings.load import cycles_reached

    names = ["syscall_prune", "size_search", "pgo"]
    assert cycles_reached("syscall_prune", names) == {"syscall_prune"}
    assert cycles_reached("not pgo", names) == {"syscall_prune", "size_search"}
    assert cycles_reached("syscall_prune and baseline", names) == {"syscall_prune"}
    assert cycles_reached("test_builds", names) == set(names)  # a test's name: every cycle
    assert cycles_reached("not test_builds", names) == set(names)  # true or false: any
    assert cycles_reached("syscall_prune and not test_builds", names) == {"syscall_prune"}
    assert cycles_reached("syscall_prune and", names) == set(names)  # pytest says why
    assert cycles_reached("", names) == set(names)
