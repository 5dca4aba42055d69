"""The census of what a shell sees (census.sh, parsed) and the losses between two.

The excerpts under data/census/ are census.sh's output on the AN385 baseline
and config-only images (cut to a few folders); the script itself also runs
here, with the host's sh, on a tree made for the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from kq_records import real_census

from harness.boot import census as census_mod
from harness.boot.census import Census, CensusError, Kind, parse
from harness.boot.losses import (
    Loss,
    LossKind,
    accepts,
    interface_losses,
    judge,
    summarize,
    syscall_losses,
)
from harness.core.errors import ConfigError
from harness.settings.cycles import load_cycles
from harness.settings.losses import check_accept_entry


def test_a_real_census_parses_with_its_read_errors_filesystems_and_nodes():
    c = real_census("an385-baseline")
    assert c.entries["/proc/sys/kernel/hostname"] == Kind.READS
    assert c.entries["/proc/sys"] == Kind.DIR and c.entries["/proc/net"] == Kind.LINK
    assert c.entries["/sys/devices/virtual/net/lo/carrier"] == Kind.NO_READ
    assert c.read_errors["/sys/devices/virtual/net/lo/phys_port_id"] == "Not supported"
    assert {"proc", "sysfs", "nfs", "devtmpfs"} <= c.filesystems
    assert c.devices == dict.fromkeys(
        ["/dev/console", "/dev/null", "/dev/zero", "/dev/tty", "/dev/kmsg"], True
    )
    assert Census.from_json(c.as_json()) == c


@pytest.mark.parametrize(
    "text, message",
    [
        ("d /proc/sys\nr /proc/sys/kernel/hostname\n", "cut short: no 'census end'"),
        ("d /proc/sys\nhello world\ncensus end\n", "census:2: not a census line: 'hello world'"),
        ("d /proc/sys\ncensus end\nr /proc/x\n", "census:3: output after 'census end'"),
        ("d\ncensus end\n", "census:1: not a census line"),
        ("x oops\ncensus end\n", "census:1: a read error without its file"),
        ("fs proc\ncensus end\n", "no entry under /proc, /sys"),
    ],
)
def test_a_cut_short_or_foreign_output_is_no_census(text, message):
    with pytest.raises(CensusError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_console_carriage_returns_are_not_part_of_names():
    c = parse("r /proc/version\r\nfs proc\r\ncensus end\r\n")
    assert c.entries == {"/proc/version": Kind.READS} and c.filesystems == {"proc"}


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh")
def test_the_script_walks_a_tree_as_the_guest_would(tmp_path):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "sys" / "kernel" / "hostname").write_text("kqual\n")
    (proc / "12" / "fd").mkdir(parents=True)  # a process: not the kernel's interface
    (proc / "kmsg").write_text("")  # reading it would take the kernel's messages
    (proc / "self").symlink_to("12")
    deep = sys_ / "a b" / "c" / "d"
    deep.mkdir(parents=True)
    (sys_ / "a b" / "x y").write_text("1\n")
    (deep / "too-deep").write_text("")
    (sys_ / "link").symlink_to("a b")
    absent = tmp_path / "no-node"
    cmd = census_mod.command(["/dev/null", str(absent)], depth=3, roots=(str(proc), str(sys_)))
    script = tmp_path / "census.sh"
    script.write_text(census_mod.script())
    cmd = cmd.replace(census_mod.GUEST_SCRIPT, str(script))
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, check=True).stdout
    c = parse(out)
    assert c.entries == {
        f"{proc}/sys": Kind.DIR,
        f"{proc}/sys/kernel": Kind.DIR,
        f"{proc}/sys/kernel/hostname": Kind.READS,
        f"{sys_}/a b": Kind.DIR,
        f"{sys_}/a b/c": Kind.DIR,
        f"{sys_}/a b/c/d": Kind.DIR,  # depth 3: listed, not entered
        f"{sys_}/a b/x y": Kind.READS,
        f"{sys_}/link": Kind.LINK,
    }
    assert c.devices == {"/dev/null": True, str(absent): False}
    assert not absent.exists(), "the census created a node it only had to open"
    assert not script.exists(), "the script is left behind (the workload lists /tmp)"
    assert os.path.exists("/proc/filesystems") == bool(c.filesystems)


def test_the_install_command_is_one_console_line_that_writes_the_script(tmp_path):
    line = census_mod.install_command().replace(census_mod.GUEST_SCRIPT, str(tmp_path / "s.sh"))
    assert "\n" not in line
    subprocess.run(line, shell=True, check=True)
    written = (tmp_path / "s.sh").read_text().splitlines()
    assert written == [x for x in census_mod.script().splitlines() if x.strip()]


def test_what_config_only_gives_up_against_the_baseline():
    losses = interface_losses(real_census("an385-baseline"), real_census("an385-config-only"))
    by_key = {x.key: x for x in losses}
    net = by_key["/proc/sys/net"]
    assert net.kind == LossKind.GONE and net.below > 0
    assert "/proc/sys/net/core" not in by_key, "a gone folder is one loss"
    assert by_key["/proc/net"].kind == LossKind.GONE
    assert {"filesystem nfs", "filesystem nfs4", "filesystem debugfs"} <= set(by_key)
    assert "/proc/sys/kernel/hostname" not in by_key
    assert str(net).startswith(f"/proc/sys/net (gone, {net.below} entries under it)")


def test_the_same_census_gives_up_nothing():
    c = real_census("an385-baseline")
    assert interface_losses(c, c) == []


def test_a_file_that_stops_opening_or_reading_and_a_node_that_stops_opening():
    base = parse(
        "r /proc/sys/kernel/printk\nr /proc/a\nx /proc/b: Invalid argument\n"
        "dev /dev/ttyS0\ndev /dev/null\nfs proc\nfs sysfs\ncensus end\n"
    )
    mine = parse(
        "- /proc/sys/kernel/printk\nx /proc/a: Input/output error\n- /proc/b\n"
        "nodev /dev/ttyS0\ndev /dev/null\nfs proc\ncensus end\n"
    )
    assert interface_losses(base, mine) == [
        Loss("/proc/a", LossKind.NO_READ),
        Loss("/proc/b", LossKind.NO_OPEN),
        Loss("/proc/sys/kernel/printk", LossKind.NO_OPEN),
        Loss("filesystem sysfs", LossKind.FILESYSTEM),
        Loss("device /dev/ttyS0", LossKind.DEVICE),
    ]
    assert interface_losses(mine, base) == [], "what a candidate gains is no loss"


def test_a_folder_gone_counts_what_was_under_it():
    base = parse("d /proc/sys\nd /proc/sys/kernel\nr /proc/sys/kernel/x\nr /proc/v\ncensus end\n")
    mine = parse("r /proc/v\ncensus end\n")
    assert interface_losses(base, mine) == [Loss("/proc/sys", LossKind.GONE, 2)]


@pytest.mark.parametrize(
    "pattern, key, kind, yes",
    [
        ("/proc/sys", "/proc/sys", LossKind.GONE, True),
        ("/proc/sys", "/proc/sys/net", LossKind.GONE, True),
        ("/proc/sys/", "/proc/sys/net", LossKind.GONE, True),
        ("/proc/sys/kernel/hostname", "/proc/sys", LossKind.GONE, False),  # more is lost
        ("/proc/sy", "/proc/sys", LossKind.GONE, False),
        ("/sys/kernel/slab/*", "/sys/kernel/slab/TCP", LossKind.GONE, True),
        ("/sys/module/nfs*", "/sys/module/nfsv4", LossKind.GONE, True),
        ("filesystem nfs*", "filesystem nfs4", LossKind.FILESYSTEM, True),
        ("filesystem nfs", "filesystem nfs4", LossKind.FILESYSTEM, False),
        ("device /dev/ttyS0", "device /dev/ttyS0", LossKind.DEVICE, True),
        ("syscall socket", "syscall socket", LossKind.SYSCALL, True),
        ("syscall socket", "syscall socketpair", LossKind.SYSCALL, False),
    ],
)
def test_which_accept_entry_covers_which_loss(pattern, key, kind, yes):
    assert accepts(pattern, Loss(key, kind)) is yes


def test_judge_splits_losses_and_names_the_entries_nothing_needed():
    losses = [Loss("/proc/sys", LossKind.GONE, 9), *syscall_losses({"getuid32"})]
    j = judge(losses, ["/proc/sys", "filesystem nfs"])
    assert j.refused == [Loss("syscall getuid32", LossKind.SYSCALL)]
    assert j.accepted == [Loss("/proc/sys", LossKind.GONE, 9)]
    assert j.unused == ["filesystem nfs"]
    assert summarize(losses, limit=1) == "/proc/sys (gone, 9 entries under it) and 1 more"


@pytest.mark.parametrize(
    "entry, fine",
    [
        ("/proc/sys", True),
        ("/sys/kernel/slab/*", True),
        ("filesystem nfs", True),
        ("syscall socket", True),
        ("device /dev/ttyS0", True),
        ("proc/sys", False),
        ("/proc/../etc", False),
        ("filesystem ", False),
        ("", False),
        (5, False),
    ],
)
def test_accept_entries_are_checked(entry, fine):
    assert (check_accept_entry(entry) is None) is fine


def test_a_cycle_with_a_bad_accept_entry_names_file_and_line(write):
    path = write(
        "cycles.yaml",
        """
        cycles:
          c:
            accept_losses:
              - /proc/sys
              - proc/net
            candidates:
              - name: base
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_cycles(path)
    message = str(info.value)
    assert f"{path}:5" in message and "'proc/net'" in message and "accept_losses" in message


def test_the_shipped_cycles_accept_no_sysctl_loss():
    """/proc/sys is what a person at the shell reads and writes: no default cycle
    may accept losing it, or any file in it."""
    for cycle in load_cycles().values():
        for entry in cycle.accept_losses:
            for probe in ("/proc/sys", "/proc/sys/kernel/hostname", "/proc/sys/kernel/printk"):
                assert not accepts(entry, Loss(probe, LossKind.GONE)), (cycle.name, entry)


def test_a_census_record_is_read_only_by_its_run(tmp_path):
    from kq_records import write_census

    from harness.boot.census import read_census

    write_census(tmp_path, "run-1", syscalls_lost=["getuid32 (199)"])
    got = read_census(tmp_path, "run-1")
    assert got is not None and got.syscalls_lost == ["getuid32 (199)"]
    assert read_census(tmp_path, "run-2") is None
    (tmp_path / "census.json").write_text('{"schema": "kqual.census/1", "run_id": "run-1"}')
    assert read_census(tmp_path, "run-1") is None, "a damaged record is no census"
    assert read_census(Path(tmp_path / "nowhere"), "run-1") is None
