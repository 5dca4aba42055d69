"""A project of the user's own: `kqual init`, its inputs first, its work/ and results/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main as kqual
from harness.core.paths import ROOT, resolve, results_dir, set_project, work_dir
from harness.settings.target import default_target_path, read_target, target_path


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty folder after `kqual init`; the process is back on the checkout after."""
    for var in ("KQUAL_WORK", "KQUAL_RESULTS", "KQUAL_CACHE", "KQUAL_TARGET"):
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "myproj"
    folder.mkdir()
    assert kqual(["init", str(folder)]) == 0
    yield folder
    set_project(None)


def test_init_writes_commented_starters_that_point_at_the_defaults(project):
    names = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    assert names == [
        "README.kqual",
        "configs/cycles.yaml",
        "configs/target.yaml",
        "configs/workload.yaml",
        "pytest.ini",
    ]
    for name in names[1:4]:
        text = (project / name).read_text()
        assert text.startswith("# "), name
        assert str(ROOT / "configs") in text, name  # where kqual's own defaults are
    assert f"testpaths = {ROOT / 'test_cycles'}" in (project / "pytest.ini").read_text()


def test_init_overwrites_nothing_and_stays_out_of_the_checkout(project, capsys):
    (project / "configs" / "workload.yaml").write_text("steps: []\n")
    assert kqual(["init", str(project)]) == 2
    assert "already has pytest.ini, configs/target.yaml" in capsys.readouterr().err
    assert (project / "configs" / "workload.yaml").read_text() == "steps: []\n"
    assert kqual(["init", str(ROOT / "work" / "x")]) == 2
    assert "inside kqual's checkout" in capsys.readouterr().err


def test_a_projects_inputs_come_first_and_its_outputs_stay_in_it(project):
    set_project(project)
    assert work_dir() == project / "work" and results_dir() == project / "results"
    assert default_target_path() == project / "configs" / "target.yaml"
    t = read_target(default_target_path())
    assert t.name == "my-board" and t.qemu.machine == "mps2-an385"  # from an385
    assert t.fragment_paths[0] == ROOT / "configs/kernel/size.config"  # kqual's own
    (project / "configs" / "kernel").mkdir()
    (project / "configs" / "kernel" / "size.config").write_text("CONFIG_PRINTK=y\n")
    assert resolve("configs/kernel/size.config") == project / "configs/kernel/size.config"
    assert resolve("configs/cycles.yaml") == project / "configs/cycles.yaml"
    assert resolve("nowhere.yaml") == project / "nowhere.yaml"  # the error names theirs
    (project / "configs" / "boards").mkdir()
    (project / "configs" / "boards" / "an386.yaml").write_text("extends: an385\nname: x\n")
    assert target_path("an386") == project / "configs/boards/an386.yaml"
    set_project(None)
    assert (
        work_dir() == ROOT / "work"
        and resolve("configs/cycles.yaml") == ROOT / "configs/cycles.yaml"
    )


@pytest.mark.needs("qemu", "cross", "kernel")
def test_pytest_in_the_project_collects_its_cycle(project, tmp_path):
    """No option given: the project's target, cycles and workload, kqual's tests."""
    cycles = project / "configs" / "cycles.yaml"
    cycles.write_text(cycles.read_text().replace("name: syscall-prune-trace", "name: my-trace"))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    for var in ("KQUAL_WORK", "KQUAL_RESULTS", "KQUAL_CACHE", "KQUAL_TARGET"):
        env.pop(var, None)
    env["KQUAL_WORK"] = str(work_dir())  # the kernel source already unpacked for this run
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-k", "syscall_prune"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    ids = [line for line in run.stdout.splitlines() if "::" in line]
    assert any("my-trace" in i for i in ids), ids[:10]
    assert all("syscall_prune" in i for i in ids)
    assert not (project / "work").exists()  # KQUAL_WORK moved it
    assert not list(Path(ROOT / "results").glob("my-board"))
