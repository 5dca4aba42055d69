"""A kernel engineer's own project: `kqual init` in an empty folder, then their
kernel folder, their root filesystem, their workload and cycle. `pytest -k
syscall_prune` in that folder must select the safe prune, keep what their
program calls, run it on the selected image, keep its results in that folder,
and leave their kernel folder byte-for-byte as it was."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.core.paths import ROOT, work_dir
from harness.image.kernel_source import prepare_source
from harness.image.userspace import build_userspace
from harness.kernel.syscall_table import parse_syscall_table
from harness.scan.syscalls import scan
from harness.settings.initramfs import load_spec

pytestmark = pytest.mark.needs("qemu", "cross", "kernel")

# Calls BusyBox never makes in our config (checked below against its own scan):
# each through the libc wrapper a program would use.
EXTRA_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/personality.h>
#include <unistd.h>

static int missing;
static void check(const char *name, long r) {
    if (r < 0 && errno == ENOSYS) { printf("ENOSYS %s\n", name); missing++; }
}

int main(void) {
    struct timespec ts;
    uid_t r, e, s;
    check("sched_getcpu", sched_getcpu());
    check("personality", personality(0xffffffff));
    check("sched_get_priority_max", sched_get_priority_max(SCHED_FIFO));
    check("sched_get_priority_min", sched_get_priority_min(SCHED_RR));
    check("sched_rr_get_interval", sched_rr_get_interval(0, &ts));
    check("getresuid", getresuid(&r, &e, &s));
    printf("extra: %d missing\n", missing);
    return missing != 0;
}
"""
CANDIDATE_CALLS = (
    "getcpu",
    "personality",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "getresuid32",
)


def manifest(folder: Path) -> dict[str, str]:
    """Every entry under `folder`: a file's mode and content hash, a link's target."""
    out = {}
    for top, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            p = Path(top) / name
            rel = p.relative_to(folder).as_posix()
            st = p.lstat()
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_file():
                out[rel] = f"{st.st_mode:o} {hashlib.sha256(p.read_bytes()).hexdigest()}"
            else:
                out[rel] = f"{st.st_mode:o}"
    return out


def rootfs_from_list(list_path: Path, root: Path, nodes: set[str]) -> None:
    """A folder holding what our initramfs list packs, device nodes left to the target."""
    for line in list_path.read_text().splitlines():
        f = line.split()
        if not f or f[1] in nodes:
            continue
        dest = root / f[1].lstrip("/")
        if f[0] == "dir":
            dest.mkdir(parents=True, exist_ok=True)
        elif f[0] == "file":
            shutil.copyfile(f[2], dest)
            dest.chmod(int(f[3], 8))
        elif f[0] == "slink":
            dest.symlink_to(f[2])


@pytest.fixture(scope="module")
def user_inputs(target, tmp_path_factory):
    """Their kernel folder (Debian's tarball unpacked), root filesystem and files."""
    tmp = tmp_path_factory.mktemp("user")
    logs = tmp / "logs"
    source = prepare_source(target, logs)
    us = build_userspace(target, source, logs)
    assert us.busybox is not None and us.busybox_unstripped is not None
    kernel = tmp / "linux"
    kernel.mkdir()
    subprocess.run(
        ["tar", "-xf", str(target.kernel_source), "-C", str(kernel), "--strip-components=1"],
        check=True,
    )
    rootfs = tmp / "rootfs"
    spec = load_spec(target.initramfs_spec)
    own_list = us.busybox.parent / "initramfs.list"
    rootfs_from_list(own_list, rootfs, {n.path for n in spec.nodes})
    src = tmp / "extra.c"
    src.write_text(EXTRA_C)
    cc = us.busybox.parent / "kqual-cc"
    extra = rootfs / "bin" / "extra"
    subprocess.run([str(cc), "-Os", "-o", str(extra), str(src)], check=True)
    # What the program can call and BusyBox cannot: the safe prune must keep it all.
    names = {e.number: e.name for e in parse_syscall_table(source.syscall_table)}
    extra_only = {
        names[n]: n for n in scan([extra]).numbers - scan([us.busybox_unstripped]).numbers
    }
    assert len(set(extra_only) & set(CANDIDATE_CALLS)) >= 4, f"BusyBox reaches {CANDIDATE_CALLS}"
    nodes = tmp / "nodes.yaml"
    nodes.write_text(
        "nodes:\n"
        + "".join(
            f"  - {{path: {n.path}, type: {n.type}, major: {n.major}, minor: {n.minor}, "
            f'mode: "{n.mode}"}}\n'
            for n in spec.nodes
        )
    )
    project = tmp / "project"
    project.mkdir()
    init = [sys.executable, "-m", "harness.cli", "init", str(project)]
    subprocess.run(init, check=True, capture_output=True)
    board = project / "configs" / "target.yaml"
    assert board.read_text().startswith("# Your board")
    board.write_text(
        textwrap.dedent(
            f"""
            extends: {target.path}
            name: {target.name}-own
            kernel:
              source: {kernel}
            userspace:
              rootfs: {rootfs}
              initramfs: {nodes}
            """
        )
    )
    cycles = project / "configs" / "cycles.yaml"
    cycles.write_text(
        textwrap.dedent(
            """
            cycles:
              syscall_prune:
                candidates:
                  - name: baseline
                  - name: syscall-prune
                    from: baseline
                    derive: [prune_syscalls]
            """
        )
    )
    workload = project / "configs" / "workload.yaml"
    workload.write_text(
        textwrap.dedent(
            """
            steps:
              - {label: extra, command: "/bin/extra", expect: "^extra: 0 missing", exit_status: 0}
              - {label: uname, command: "uname -sr", expect: "^Linux 6\\\\."}
              - {label: ls_bin, command: "ls /bin", expect: "extra"}
            """
        )
    )
    yield {
        "tmp": tmp,
        "project": project,
        "kernel": kernel,
        "extra_only": extra_only,
        "name": f"{target.name}-own",
    }
    shutil.rmtree(kernel, ignore_errors=True)  # 1.5 GB: not kept with the test's files


def test_own_kernel_folder_and_rootfs_qualify(user_inputs):
    u = user_inputs
    before = manifest(u["kernel"])
    # The kernel builds share this run's work folder (KQUAL_WORK): the user's own
    # tree and root filesystem build apart anyway, under the target's own name.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KQUAL_")}
    env["KQUAL_WORK"] = str(work_dir())
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
        + ["-o", "kqual_require_tools=true", "-k", "syscall_prune"],
        cwd=u["project"],
        env=env,
        capture_output=True,
        text=True,
        timeout=40 * 60,
    )
    log = u["project"] / "run.log"
    log.write_text(run.stdout + run.stderr)
    assert run.returncode == 0, f"see {log}:\n" + (run.stdout + run.stderr)[-4000:]

    assert not (ROOT / "results" / u["name"]).exists()  # the project's, not the checkout's
    cycle = u["project"] / "results" / u["name"] / "syscall_prune"
    summary = json.loads((cycle / "summary.json").read_text())
    assert summary["selected"] == "syscall-prune"
    rows = {
        f[0]: f[3]
        for line in (cycle / "syscall-prune" / "syscall.tbl").read_text().splitlines()
        if (f := line.split()) and f[0].isdigit() and len(f) >= 4
    }
    for name, nr in u["extra_only"].items():
        assert rows[str(nr)] not in ("sys_pruned_syscall", "sys_ni_syscall"), name
    pruned = [nr for nr, entry in rows.items() if entry == "sys_pruned_syscall"]
    assert len(pruned) > 100, "the safe prune pruned next to nothing"
    result = json.loads((cycle / "syscall-prune" / "result.json").read_text())
    assert result["steps"]["workload"]["ok"] and result["kernel_version"].startswith("6.12")
    consoles = sorted((cycle / "syscall-prune").glob("console-boot-[0-9].log"))
    assert any("extra: 0 missing" in p.read_text() for p in consoles)  # the workload boot
    assert manifest(u["kernel"]) == before, "the run wrote into the user's kernel folder"
