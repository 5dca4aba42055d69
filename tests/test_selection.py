from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from kq_records import real_census, write_census

from harness.boot.census import Census
from harness.core import jsonfile
from harness.core.errors import ConfigError
from harness.report.bloat import parse
from harness.report.selection import decide, write_summary
from harness.report.summary import Summary, render
from harness.settings.cycles import CandidateDef, CycleDef, load_cycles
from harness.settings.derivation import make

DATA = Path(__file__).parent / "data"


def _with(candidate: CandidateDef, spec) -> CandidateDef:
    """A candidate with one derivation, as cycles.yaml would declare it."""
    candidate.derive = [spec]
    candidate.derivations = [make(spec, Path("cycles.yaml"), None, candidate.name)]
    return candidate


RUN = "run-1"
CYCLE = CycleDef(
    name="c",
    candidates=[
        CandidateDef("baseline"),
        CandidateDef("trim", base="baseline"),
        _with(CandidateDef("prune", base="trim"), "prune_syscalls"),
    ],
)
ALL_STEPS = ("build", "boot", "census", "workload", "regression", "enosys")
GOOD = dict(
    run_id=RUN,
    steps={step: {"ok": True, "detail": ""} for step in ALL_STEPS},
    shell_ready_ms=400.0,
    guest_shell_ready_ms=61.0,
    reachable_pruned={},
)


def failed(step, detail="", **facts):
    """GOOD with one step failed."""
    steps = dict(GOOD["steps"]) | {step: {"ok": False, "detail": detail}}
    return {"steps": steps, **facts}


def missing(step):
    return {"steps": {k: v for k, v in GOOD["steps"].items() if k != step}}


def write_results(root, **per):
    for name, fields in per.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "result.json").write_text(jsonfile.dumps("result", fields))
        (root / name / "linux.axf").write_bytes(b"x" * fields.get("linux_axf_bytes", 1))
        write_census(root / name, fields.get("run_id", RUN))


def decisions(root, cycle=CYCLE):
    return {d.candidate: d for d in decide(cycle, root, RUN)}


def reasons(root, cycle=CYCLE):
    return {name: d.reason for name, d in decisions(root, cycle).items()}


def test_smallest_qualified_is_selected(tmp_path):
    write_results(
        tmp_path,
        baseline=GOOD | {"linux_axf_bytes": 300},
        trim=GOOD | {"linux_axf_bytes": 200},
        prune=GOOD | {"linux_axf_bytes": 150},
    )
    assert reasons(tmp_path) == {
        "baseline": "larger_than_selected",
        "trim": "larger_than_selected",
        "prune": "selected",
    }


@pytest.mark.parametrize(
    "broken,reason",
    [
        (failed("build", "make exited 2"), "failed_build"),
        (failed("boot", "timeout"), "failed_boot"),
        (failed("workload", "uname: exited 1"), "failed_workload"),
        (failed("regression", "61.9 vs 60"), "rejected_boot_regression"),
        (failed("enosys", "lseek (19) x1"), "enosys"),
    ],
)
def test_each_failure_reason(tmp_path, broken, reason):
    write_results(
        tmp_path,
        baseline=GOOD | {"linux_axf_bytes": 300},
        trim=GOOD | {"linux_axf_bytes": 200},
        prune=GOOD | {"linux_axf_bytes": 150} | broken,
    )
    r = reasons(tmp_path)
    assert r["prune"] == reason and r["trim"] == "selected"


def test_tie_goes_to_the_faster(tmp_path):
    write_results(
        tmp_path,
        baseline=GOOD | {"linux_axf_bytes": 300},
        trim=GOOD | {"linux_axf_bytes": 200, "guest_shell_ready_ms": 60.0},
        prune=GOOD | {"linux_axf_bytes": 200, "guest_shell_ready_ms": 59.0},
    )
    assert reasons(tmp_path)["prune"] == "selected"


def test_results_of_other_runs_are_ignored(tmp_path):
    write_results(
        tmp_path,
        baseline=GOOD | {"linux_axf_bytes": 300},
        trim=GOOD | {"linux_axf_bytes": 10, "run_id": "old"},
    )
    assert reasons(tmp_path) == {"baseline": "selected"}
    # ...and a run that saw only part of the cycle writes no selection.
    assert write_summary(CYCLE, tmp_path, RUN) is None
    assert not (tmp_path / "summary.json").exists() and not (tmp_path / "selected").exists()


def test_summary_files_and_selected_copy(tmp_path):
    write_results(
        tmp_path,
        baseline=GOOD | {"linux_axf_bytes": 300},
        trim=GOOD | {"linux_axf_bytes": 200} | failed("regression", "61.9 vs 60"),
        prune=GOOD | {"linux_axf_bytes": 150},
    )
    summary = write_summary(CYCLE, tmp_path, RUN)
    assert summary.selected == "prune"
    assert (tmp_path / "selected" / "linux.axf").read_bytes() == b"x" * 150
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["schema"] == "kqual.summary/1"
    assert on_disk["candidates"]["trim"]["reason"] == "rejected_boot_regression"
    assert on_disk["candidates"]["prune"]["linux_axf_bytes"] == 150
    del on_disk["schema"]
    assert Summary.from_json(on_disk) == summary  # typed in, JSON out, and back
    text = render(Summary.from_json(on_disk))
    assert "selected prune" in text and "61.9 vs 60" in text


RISK_CYCLE = CycleDef(
    name="r",
    candidates=[
        CandidateDef("baseline"),
        _with(CandidateDef("safe", base="baseline"), "prune_syscalls"),
        _with(
            CandidateDef("aggressive", base="baseline"),
            {"prune_syscalls": {"keep_reachable": False}},
        ),
    ],
)


def risk_results(root):
    write_results(
        root,
        baseline=GOOD | {"linux_axf_bytes": 300},
        safe=GOOD | {"linux_axf_bytes": 200, "syscalls_kept": 90, "syscalls_pruned": 300},
        aggressive=GOOD
        | {
            "linux_axf_bytes": 180,
            "syscalls_kept": 60,
            "syscalls_pruned": 330,
            "reachable_pruned": {
                "syslog": ["klogctl@/bin/busybox"],
                "socket": ["socket@/bin/busybox"],
            },
        },
    )


def test_at_risk_candidate_is_not_selected(tmp_path):
    risk_results(tmp_path)
    d = decisions(tmp_path, RISK_CYCLE)
    assert d["aggressive"].reason == "at_risk"
    assert "socket" in d["aggressive"].detail and "syslog" in d["aggressive"].detail
    assert d["safe"].reason == "selected"
    summary = write_summary(RISK_CYCLE, tmp_path, RUN)
    assert summary.safety_cost == [
        "safety costs +20 bytes: safe against aggressive, which prunes 2 syscalls "
        "the userspace can call"
    ]
    text = render(summary)
    assert "at_risk" in text and "safety costs +20 bytes" in text


def test_at_risk_accepted_when_the_cycle_says_so(tmp_path):
    risk_results(tmp_path)
    cycle = CycleDef(name="r", candidates=RISK_CYCLE.candidates, accept_at_risk=True)
    d = decisions(tmp_path, cycle)
    assert d["aggressive"].reason == "selected"
    assert d["aggressive"].detail.startswith("accepted at risk: prunes syscalls")


def test_pruning_without_a_scan_record_is_at_risk(tmp_path):
    risk_results(tmp_path)
    r = json.loads((tmp_path / "safe" / "result.json").read_text())
    del r["reachable_pruned"]
    (tmp_path / "safe" / "result.json").write_text(json.dumps(r))
    assert reasons(tmp_path, RISK_CYCLE) == {
        "baseline": "selected",
        "safe": "at_risk",
        "aggressive": "at_risk",
    }


def test_bloat_o_meter_output_is_read_as_the_kernel_prints_it():
    text = (DATA / "bloat" / "baseline-vs-syscall-prune.txt").read_text()
    b = parse(text)
    assert b.header == "add/remove: 106/10017 grow/shrink: 19/138 up/down: 774/-1276573 (-1275799)"
    assert b.total == "Total: Before=2368912, After=1093113, chg -53.86%"
    assert b.deltas[0] == ("__msg", 15417, 0, -15417)  # largest change first
    assert ("sys_pruned_syscall", 0, 80, 80) in b.deltas
    assert ("iter_file_splice_write", 608, 616, 8) in b.deltas
    with pytest.raises(ValueError, match="not bloat-o-meter output"):
        parse("Function old new delta\n")


def test_real_cycles_file_and_derivation():
    cycles = load_cycles()
    c = cycles["syscall_prune"]
    assert [x.name for x in c.chain("syscall-prune")] == [
        "baseline",
        "config-only",
        "syscall-prune",
    ]
    assert c.regression.metric == "guest_shell_ready_ms"


def test_cycle_candidate_from_unknown(write):
    p = write(
        "cycles.yaml",
        """
        cycles:
          x:
            candidates:
              - name: baseline
              - {name: b, from: nowhere}
    """,
    )
    with pytest.raises(ConfigError, match="derives from 'nowhere'"):
        load_cycles(p)


def test_a_step_missing_from_this_run_means_no_selection(tmp_path):
    """Build tests alone (or a step that never ran) must not turn into a selection."""
    write_results(
        tmp_path,
        baseline=GOOD | {"linux_axf_bytes": 300},
        trim=GOOD | {"linux_axf_bytes": 200},
        prune=GOOD | {"linux_axf_bytes": 150} | missing("boot"),
    )
    d = decisions(tmp_path)
    assert d["prune"].reason == "not_run" and d["prune"].detail == "boot did not run"
    assert write_summary(CYCLE, tmp_path, RUN) is None
    assert not (tmp_path / "selected").exists()


def test_qualified_in_run_1_failing_in_run_2_is_not_selected(tmp_path, monkeypatch):
    """The record is written afresh by each run: nothing of run 1 stands in run 2."""
    from harness.core.paths import candidate_dir
    from harness.core.verdicts import StepName
    from harness.report.results import Records

    monkeypatch.setenv("KQUAL_RESULTS", str(tmp_path))
    root = tmp_path / "t" / "c"

    def run(run_id, prune_boots: bool, prune_workload: bool | None):
        records = Records(run_id)
        for name, size in (("baseline", 300), ("trim", 200), ("prune", 150)):
            folder = candidate_dir("t", "c", name)
            (folder / "linux.axf").write_bytes(b"x" * size)
            records.step(folder, StepName.BUILD, True, linux_axf_bytes=size, reachable_pruned={})
            booted = prune_boots or name != "prune"
            records.step(folder, StepName.BOOT, booted, "" if booted else "no shell within 60s")
            if not booted:
                continue  # what a raising boot leaves: no workload outcome at all
            records.step(folder, StepName.CENSUS, True)
            write_census(folder, run_id)
            ok = prune_workload if name == "prune" else True
            if ok is not None:
                records.step(folder, StepName.WORKLOAD, ok, "" if ok else "uname: exited 1")
            for step in (StepName.REGRESSION, StepName.ENOSYS):
                records.step(folder, step, True)
            records.update(folder, guest_shell_ready_ms=60.0)
        return {d.candidate: d.reason for d in decide(CYCLE, root, run_id)}

    assert run("run-1", True, True)["prune"] == "selected"
    assert run("run-2", False, None) == {
        "baseline": "larger_than_selected",
        "trim": "selected",
        "prune": "failed_boot",
    }
    assert run("run-3", True, False)["prune"] == "failed_workload"
    assert json.loads((root / "prune" / "result.json").read_text())["run_id"] == "run-3"


def test_a_tie_in_size_and_time_goes_to_the_better_locality(tmp_path):
    same = {"linux_axf_bytes": 200, "guest_shell_ready_ms": 59.0}
    write_results(
        tmp_path,
        baseline=GOOD | {"linux_axf_bytes": 300},
        trim=GOOD | same | {"locality": {"text_pages": 90, "hot90_pages": 60, "hot90_lines": 900}},
        prune=GOOD | same | {"locality": {"text_pages": 90, "hot90_pages": 24, "hot90_lines": 700}},
    )
    assert reasons(tmp_path)["prune"] == "selected"
    summary = write_summary(CYCLE, tmp_path, RUN)
    text = render(summary)
    assert "hot90_pages" in text and "guest time stays the regression gate" in text
    assert summary.candidates["prune"].locality["hot90_pages"] == 24


def test_a_skipped_candidate_is_decided_with_its_reason_and_does_not_block(tmp_path):
    write_results(
        tmp_path,
        baseline=GOOD | {"linux_axf_bytes": 300},
        trim=GOOD | {"linux_axf_bytes": 200},
        prune={"run_id": RUN, "skipped": "not_concentrated: top32 12% (needs 30%)"},
    )
    d = decisions(tmp_path)
    assert (d["prune"].reason, d["prune"].detail) == ("not_concentrated", "top32 12% (needs 30%)")
    summary = write_summary(CYCLE, tmp_path, RUN)
    assert summary is not None and summary.selected == "trim"


def _census_losing(root, name, *, sysctl=True, nfs=True):
    """The real baseline excerpt, with /proc/sys (and/or the nfs filesystem) taken away."""
    base = real_census()
    entries = {p: k for p, k in base.entries.items() if not (sysctl and p.startswith("/proc/sys"))}
    filesystems = base.filesystems - ({"nfs"} if nfs else set())
    write_census(root / name, RUN, Census(entries, filesystems, base.devices, base.read_errors))


LOSS_CYCLE = CycleDef(
    name="l",
    candidates=[CandidateDef("baseline"), CandidateDef("small", base="baseline")],
)


def test_a_candidate_that_gives_up_proc_sys_is_at_risk_by_default(tmp_path):
    write_results(
        tmp_path, baseline=GOOD | {"linux_axf_bytes": 300}, small=GOOD | {"linux_axf_bytes": 200}
    )
    _census_losing(tmp_path, "small")
    d = decisions(tmp_path, LOSS_CYCLE)
    assert d["small"].reason == "at_risk" and d["baseline"].reason == "selected"
    assert d["small"].detail.startswith("gives up /proc/sys (gone, ")
    assert "filesystem nfs" in d["small"].detail and "accept_losses" in d["small"].detail
    assert {x["key"]: x["accepted"] for x in d["small"].losses} == {
        "/proc/sys": False,
        "filesystem nfs": False,
    }
    # accept_at_risk is about pruned syscalls: it accepts no lost interface
    lenient = dataclasses.replace(LOSS_CYCLE, accept_at_risk=True)
    assert decisions(tmp_path, lenient)["small"].reason == "at_risk"


def test_a_loss_the_cycle_names_is_accepted_and_the_summary_says_what_was_given_up(tmp_path):
    write_results(
        tmp_path, baseline=GOOD | {"linux_axf_bytes": 300}, small=GOOD | {"linux_axf_bytes": 200}
    )
    _census_losing(tmp_path, "small")
    only_sysctl = dataclasses.replace(LOSS_CYCLE, accept_losses=["/proc/sys"])
    assert decisions(tmp_path, only_sysctl)["small"].reason == "at_risk", "nfs is not named"
    cycle = dataclasses.replace(LOSS_CYCLE, accept_losses=["/proc/sys", "filesystem nfs*", "/x"])
    summary = write_summary(cycle, tmp_path, RUN)
    assert summary.selected == "small"
    text = render(summary)
    assert "what small gives up against baseline:" in text
    assert "/proc/sys (gone, " in text and "filesystem nfs" in text and "REFUSED" not in text
    assert "accept_losses entries no candidate needed: /x" in text
    data = json.loads((tmp_path / "summary.json").read_text())
    assert [x["key"] for x in data["candidates"]["small"]["losses"]] == [
        "/proc/sys",
        "filesystem nfs",
    ]
    assert Summary.from_json(data).candidates["small"].losses == summary.candidates["small"].losses


def test_a_syscall_made_enosys_by_a_config_is_a_loss(tmp_path):
    write_results(
        tmp_path, baseline=GOOD | {"linux_axf_bytes": 300}, small=GOOD | {"linux_axf_bytes": 200}
    )
    write_census(tmp_path / "small", RUN, syscalls_lost=["getuid32 (199)"])
    d = decisions(tmp_path, LOSS_CYCLE)["small"]
    assert d.reason == "at_risk" and "syscall getuid32" in d.detail
    cycle = dataclasses.replace(LOSS_CYCLE, accept_losses=["syscall getuid32"])
    assert decisions(tmp_path, cycle)["small"].reason == "selected"


def test_no_census_of_the_baseline_in_this_run_is_no_choice(tmp_path):
    write_results(
        tmp_path, baseline=GOOD | {"linux_axf_bytes": 300}, small=GOOD | {"linux_axf_bytes": 200}
    )
    write_census(tmp_path / "baseline", "an-older-run")
    d = decisions(tmp_path, LOSS_CYCLE)
    assert d["small"].reason == "not_run" and "no census of baseline" in d["small"].detail
