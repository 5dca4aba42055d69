"""A cycle's limits (budget file, resident bytes, MemAvailable) as read from the
cycles file, and their verdict in the selection; /proc/meminfo as read."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.boot.meminfo import MeminfoError, parse_meminfo
from harness.core import jsonfile
from harness.core.errors import ConfigError
from harness.report.selection import decide, required_steps
from harness.settings.cycles import candidate_params, load_cycles

CYCLE = """
cycles:
  c:
    limits: {LIMITS}
    candidates:
      - name: baseline
      - {{name: small, from: baseline}}
"""


def _cycles(write, limits: str):
    return load_cycles(write("cycles.yaml", CYCLE.format(LIMITS=limits)))


def test_a_cycle_with_limits_checks_every_candidate_but_the_baseline(write):
    cycles = _cycles(write, "{min_mem_available: 1000000}")
    c = cycles["c"]
    assert c.limits.any and c.limits.min_mem_available == 1_000_000
    assert "limits" in required_steps(c, "small") and "limits" not in required_steps(c, "baseline")
    assert candidate_params(cycles)["limited_candidate"] == [("c", "small")]


def test_a_cycle_without_limits_has_no_limits_step(write):
    cycles = load_cycles(
        write(
            "cycles.yaml",
            "cycles:\n  c:\n    candidates:\n"
            "      - name: baseline\n      - {name: s, from: baseline}\n",
        )
    )
    assert not cycles["c"].limits.any
    assert "limits" not in required_steps(cycles["c"], "s")
    assert candidate_params(cycles)["limited_candidate"] == []


@pytest.mark.parametrize(
    "limits,where,words",
    [
        ("{budget: nowhere.yaml}", "cycles.yaml:3", "budget file nowhere.yaml not found"),
        ("{max_resident_bytes: 0}", "cycles.yaml:3", "at least 1"),
        ("{min_mem_available: -5}", "cycles.yaml:3", "at least 0"),
        ("{max_resident: 5}", "cycles.yaml:3", "unknown key 'cycles.c.limits.max_resident'"),
    ],
)
def test_bad_limits_name_their_line(write, limits, where, words):
    with pytest.raises(ConfigError, match=words) as e:
        _cycles(write, limits)
    assert str(e.value).split(": ")[0].endswith(where)


def test_a_bad_budget_file_fails_the_cycles_file_at_the_budgets_line(write, tmp_path):
    budget = write("budget.yaml", "buckets:\n  kernel/sched: lots\n")
    with pytest.raises(ConfigError, match="byte count") as e:
        _cycles(write, f"{{budget: {budget}}}")
    assert e.value.path == budget and e.value.line == 2


def _record(folder, **steps):
    folder.mkdir(parents=True)
    data = {
        "run_id": "r",
        "steps": {
            k: {"ok": v, "detail": "" if v else "over: kernel/sched"} for k, v in steps.items()
        },
        "linux_axf_bytes": 100 if folder.name == "small" else 200,
        "guest_shell_ready_ms": 50.0,
    }
    (folder / "result.json").write_text(jsonfile.dumps("result", data))


def test_a_candidate_over_its_limits_is_over_budget_and_not_selected(write, tmp_path):
    from kq_records import write_census

    c = _cycles(write, "{max_resident_bytes: 10}")["c"]
    common = {"build": True, "boot": True, "census": True, "workload": True}
    _record(tmp_path / "baseline", **common)
    _record(tmp_path / "small", **common, regression=True, limits=False)
    for name in ("baseline", "small"):
        write_census(tmp_path / name, "r")
    got = {d.candidate: (d.reason, d.detail) for d in decide(c, tmp_path, "r")}
    assert got["small"] == ("over_budget", "over: kernel/sched")
    assert got["baseline"][0] == "selected"


# /proc/meminfo of the an385 syscall-prune image at shell-ready, as kqual read it.
REAL = Path(__file__).parent / "data" / "meminfo" / "an385-syscall-prune.txt"


def test_meminfo_in_bytes():
    m = parse_meminfo(REAL.read_text(), str(REAL))
    assert (m.mem_total_bytes, m.mem_free_bytes, m.mem_available_bytes) == (
        14944 * 1024,
        12668 * 1024,
        11980 * 1024,
    )


def test_meminfo_of_an_old_kernel_has_no_memavailable():
    m = parse_meminfo("MemTotal: 100 kB\nMemFree: 50 kB\n")
    assert m.mem_available_bytes is None


@pytest.mark.parametrize(
    "text,words",
    [
        ("MemFree: 50 kB\n", "no MemTotal"),
        ("MemTotal: lots kB\nMemFree: 1 kB\n", "not a meminfo line"),
        ("cat: can't open '/proc/meminfo': No such file or directory\n", "is /proc mounted"),
    ],
)
def test_meminfo_that_is_not(text, words):
    with pytest.raises(MeminfoError, match=words):
        parse_meminfo(text)


def test_the_memory_table_marks_the_pareto_set():
    from harness.report.summary import Decision, pareto

    def d(name, axf, resident, ms):
        return Decision(name, "qualified", "", axf, None, ms, kernel_resident_bytes=resident)

    ds = [
        d("big", 300, 300, 50.0),  # dominated by mid on every axis
        d("mid", 200, 250, 49.0),
        d("small-slow", 100, 260, 60.0),  # smallest file, slower: on the front
        d("lean", 210, 200, 49.5),  # least resident: on the front
        d("no-boot", 50, 50, None),  # no guest time: not a point
    ]
    assert pareto(ds) == ["mid", "small-slow", "lean"]


def test_kernelci_json_has_kunit_tools_shape_and_this_runs_verdicts(write, tmp_path):
    import json

    from harness.report.kernelci import kernelci_json

    cycles = _cycles(write, "{max_resident_bytes: 10}")
    common = {"build": True, "boot": True, "census": True, "workload": True}
    _record(tmp_path / "baseline", **common)
    _record(tmp_path / "small", **{**common, "workload": False}, regression=True)
    got = json.loads(kernelci_json(cycles, {"c": tmp_path}, "r", "arm", "mps2_defconfig"))
    assert got["name"] == "kqual" and got["arch"] == "arm" and got["test_cases"] == []
    [group] = got["sub_groups"]
    assert group["name"] == "c" and group["defconfig"] == "mps2_defconfig"
    cases = {
        s["name"]: {c["name"]: c["status"] for c in s["test_cases"]} for s in group["sub_groups"]
    }
    assert cases["baseline"] == dict.fromkeys(("build", "boot", "census", "workload"), "PASS")
    # A step with no outcome in this run (limits) is an ERROR, never a pass.
    assert cases["small"] == {
        "build": "PASS",
        "boot": "PASS",
        "census": "PASS",
        "workload": "FAIL",
        "regression": "PASS",
        "limits": "ERROR",
    }
    for key in ("build_environment", "lab_name", "kernel", "job", "git_branch"):
        assert key in group and key in group["sub_groups"][0]
    assert kernelci_json(cycles, {"c": tmp_path}, "another-run", "arm", "x") is None
