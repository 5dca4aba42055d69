"""The `kqual` console script: its commands, help and errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from kq_records import write_census

from harness.cli import main
from harness.core import jsonfile

GOOD_STEPS = {
    s: {"ok": True, "detail": ""} for s in ("build", "boot", "census", "workload", "regression")
}


def kqual(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("kqual")
    argv = [exe, *args] if exe else [sys.executable, "-m", "harness.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True)


def test_help_lists_the_commands():
    out = kqual("--help")
    assert out.returncode == 0
    for command in ("trace", "syscalls", "report", "targets"):
        assert f"kqual {command}" in out.stdout


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_each_command_has_argparse_help():
    for command in ("trace", "syscalls", "report", "targets"):
        out = kqual(command, "--help")
        assert out.returncode == 0 and "usage:" in out.stdout, command


def test_an_unknown_kqual_target_names_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("KQUAL_TARGET", "nosuch")
    assert main(["targets"]) == 2
    err = capsys.readouterr().err
    assert "KQUAL_TARGET: no target 'nosuch'" in err and "--target" not in err


def test_targets_lists_the_default(capsys):
    assert main(["targets"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("* mps2-an385") and "cortex-m3" in line


def _two_candidates(write, tmp_path):
    cycles = write(
        "cycles.yaml",
        """
        cycles:
          c:
            candidates:
              - name: base
              - name: small
                from: base
        """,
    )
    results = tmp_path / "results"
    for name, size in (("base", 300), ("small", 200)):
        (results / "c" / name).mkdir(parents=True)
        record = {"run_id": "r1", "steps": GOOD_STEPS, "linux_axf_bytes": size}
        (results / "c" / name / "result.json").write_text(jsonfile.dumps("result", record))
        write_census(results / "c" / name, "r1")
    return cycles, results


def test_report_renders_again_from_the_records(tmp_path, write, capsys):
    cycles, results = _two_candidates(write, tmp_path)
    assert main(["report", str(results), "--cycles", str(cycles)]) == 0
    out = capsys.readouterr().out
    assert "cycle c: selected small (baseline base)" in out
    assert not (results / "c" / "selected").exists()  # renders, never selects
    # a cycle's own folder works too
    assert main(["report", str(results / "c"), "--cycles", str(cycles)]) == 0
    assert "cycle c: selected small (baseline base)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "damage,message",
    [
        ("truncate", "small/result.json: not a kqual result record"),
        ("not-json", "small/result.json: not a kqual result record"),
        ("later-run", "cycle c: no run took every candidate through every step (records of 2"),
        ("empty", "cycle c: no run took every candidate through every step (records of 0"),
        ("not-utf8", "small/result.json: not a kqual result record"),
        ("mistyped", "small/result.json: not a kqual result record"),
    ],
)
def test_report_names_what_is_wrong_and_exits_non_zero(tmp_path, write, capsys, damage, message):
    cycles, results = _two_candidates(write, tmp_path)
    record = results / "c" / "small" / "result.json"
    if damage == "truncate":
        record.write_text(record.read_text()[:40])
    elif damage == "not-json":
        record.write_text("{}")
    elif damage == "later-run":  # a later run rewrote one record only
        data = json.loads(record.read_text()) | {"run_id": "r2"}
        del data["schema"]
        record.write_text(jsonfile.dumps("result", data))
    elif damage == "not-utf8":
        record.write_bytes(b"\xff\xfe" + record.read_bytes())
    elif damage == "mistyped":  # valid JSON of the right kind, fields of the wrong type
        data = json.loads(record.read_text())
        del data["schema"]
        record.write_text(jsonfile.dumps("result", data | {"steps": 5}))
    elif damage == "empty":
        for p in results.glob("c/*/result.json"):
            p.unlink()
    assert main(["report", str(results), "--cycles", str(cycles)]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert "selected" not in captured.out  # no run is whole: nothing to render


@pytest.mark.parametrize("args", [["report", "/nonexistent"], ["syscalls", "/nonexistent"]])
def test_bad_arguments_are_errors(args, capsys):
    assert main(args) == 2
    assert "/nonexistent" in capsys.readouterr().err
