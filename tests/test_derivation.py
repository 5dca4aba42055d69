"""The derivation registry: a derivation defined here, with no other edit, takes part
in a cycle declared here."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.core.verdicts import StepName
from harness.cycle_run import CycleRunner, Environment
from harness.report.results import Records, read_record
from harness.report.selection import decide, required_steps
from harness.settings.cycles import candidate_params, load_cycles
from harness.settings.derivation import Contribution, Derivation, register
from harness.settings.target import default_target_path, read_target
from harness.settings.workload import load_workload
from harness.trace.cache import ProfileCache

ROOT = Path(__file__).resolve().parent.parent


@register
class Stamp(Derivation):
    """A test derivation: one fragment, one make override, an extra step and test."""

    name = "test_stamp"
    steps = (StepName.ENOSYS,)
    options = {"level": int}

    def contribute(self, ctx):
        frag = ctx.generated / f"stamp-{self.opts.get('level', 0)}.config"
        frag.parent.mkdir(parents=True, exist_ok=True)
        frag.write_text(f"CONFIG_LOG_BUF_SHIFT={12 + self.opts.get('level', 0)}\n")
        return Contribution(fragments=[frag], make_extra=["KQUAL_STAMP=1"])

    def params(self):
        return ["stamped_candidate"]

    def risk(self, record):
        return "stamped" if record.get("stamped") else None


def _environment(tmp_path: Path) -> Environment:
    """A run's environment on the default target, with nothing built or traced."""
    return Environment(
        read_target(default_target_path()),
        load_workload(ROOT / "configs" / "workload.yaml"),
        ProfileCache(tmp_path / "cache"),
        {},
        Records("run"),
        [],
    )


@pytest.fixture
def cycles_file(write):
    return write(
        "cycles.yaml",
        """
        cycles:
          mine:
            candidates:
              - name: base
              - name: stamped
                from: base
                derive: [{test_stamp: {level: 2}}]
              - name: child
                from: stamped
        """,
    )


def test_a_derivation_defined_in_a_test_joins_a_cycle(cycles_file, tmp_path, monkeypatch):
    monkeypatch.setenv("KQUAL_WORK", str(tmp_path / "work"))
    cycle = load_cycles(cycles_file)["mine"]
    assert [d.name for d in cycle.derivations("child")] == ["test_stamp"]  # inherited
    assert cycle.derivations("stamped")[0].opts == {"level": 2}
    env = _environment(tmp_path)
    runner = CycleRunner(env, cycle)
    spec = runner.spec("child")
    assert [f.name for f in spec.fragments] == ["stamp-2.config"]
    assert spec.make_extra == ["KQUAL_STAMP=1"] and spec.seed == runner.build_name("stamped")
    assert StepName.ENOSYS in required_steps(cycle, "child")
    assert ("mine", "stamped") in candidate_params({"mine": cycle})["stamped_candidate"]
    assert ("mine", "base") not in candidate_params({"mine": cycle})["stamped_candidate"]


@pytest.mark.parametrize(
    "derive,message",
    [
        ("[nosuch]", "unknown derivation 'nosuch'"),
        ("[{test_stamp: {level: high}}]", "option 'level' of 'test_stamp' must be int"),
        ("[{test_stamp: {colour: red}}]", "'test_stamp' has no option 'colour'"),
        ("[[a, b]]", "a derivation is a name or"),
    ],
)
def test_bad_derive_entries_name_the_line(write, derive, message):
    path = write(
        "cycles.yaml",
        f"""
        cycles:
          mine:
            candidates:
              - name: base
              - name: x
                from: base
                derive: {derive}
        """,
    )
    with pytest.raises(ConfigError, match=message) as info:
        load_cycles(path)
    assert info.value.line == 7


@register
class Broken(Derivation):
    """A derivation with a bug of ours in it."""

    name = "test_broken"

    def contribute(self, ctx):
        return Contribution(fragments=len(None))  # TypeError


def test_a_harness_bug_in_a_derivation_is_no_build_verdict(write, tmp_path, monkeypatch):
    """A TypeError is raised with its traceback, again on every ask, and the record
    says nothing about the build: no failed_build for a kernel that never ran make."""
    monkeypatch.setenv("KQUAL_WORK", str(tmp_path / "work"))
    monkeypatch.setenv("KQUAL_RESULTS", str(tmp_path / "results"))
    path = write(
        "cycles.yaml",
        """
        cycles:
          bug:
            candidates:
              - name: base
                derive: [test_broken]
        """,
    )
    cycle = load_cycles(path)["bug"]
    env = _environment(tmp_path)
    runner = CycleRunner(env, cycle)
    for _ in range(2):
        with pytest.raises(TypeError):
            runner.built("base")
    record = read_record(runner.results("base"))
    assert record is None or StepName.BUILD not in record.steps
    assert decide(cycle, runner.results("base").parent, "run") == []


def test_the_same_candidate_in_two_cycles_is_one_build(write, tmp_path, monkeypatch):
    """Build folders are named by what they build, not by cycle or candidate name."""
    monkeypatch.setenv("KQUAL_WORK", str(tmp_path / "work"))
    path = write(
        "cycles.yaml",
        """
        cycles:
          one:
            candidates:
              - name: base
              - name: stamped
                from: base
                derive: [{test_stamp: {level: 2}}]
          two:
            candidates:
              - name: baseline
              - name: also-stamped
                from: baseline
                derive: [{test_stamp: {level: 2}}]
              - name: stamped-more
                from: baseline
                derive: [{test_stamp: {level: 3}}]
        """,
    )
    cycles = load_cycles(path)
    env = _environment(tmp_path)
    one, two = CycleRunner(env, cycles["one"]), CycleRunner(env, cycles["two"])
    assert one.build_name("stamped") == two.build_name("also-stamped")
    assert one.build_name("base") == two.build_name("baseline")
    assert two.build_name("stamped-more") != two.build_name("also-stamped")  # other content
    assert one.build_name("base") != one.build_name("stamped")
    assert two.spec("also-stamped").seed == one.build_name("base")
