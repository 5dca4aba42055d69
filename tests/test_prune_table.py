from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.derive.syscall_prune import prune_table, report, systbl_override
from harness.kernel.syscall_table import NI, PRUNED, parse_syscall_table, syscall_names

TABLE = """\
# comment line
0\tcommon\trestart_syscall\tsys_restart_syscall
1\tcommon\texit\t\t\tsys_exit
2\tcommon\tfork\t\t\tsys_fork
3\tcommon\tread\t\t\tsys_read
4\tcommon\twrite\t\t\tsys_write
# 7 was sys_waitpid
13\toabi\ttime\t\t\tsys_time32
17\tcommon\tbreak\t\t\tsys_ni_syscall
19\tcommon\tlseek\t\t\tsys_lseek
"""


@pytest.fixture
def table(write):
    return write("syscall.tbl", TABLE)


def entries_of(text, tmp_path):
    p = tmp_path / "out.tbl"
    p.write_text(text)
    return {e.number: e for e in parse_syscall_table(p)}


def test_unused_point_at_ni_and_numbers_stay(table, tmp_path):
    r = prune_table(table, used={3: 10}, keep={"exit": "process exit"})
    out = entries_of(r.table_text, tmp_path)
    assert sorted(out) == [0, 1, 2, 3, 4, 13, 17, 19]  # no row removed or renumbered
    assert out[3].entry == "sys_read" and out[1].entry == "sys_exit"
    assert out[2].entry == out[4].entry == out[19].entry == out[13].entry == PRUNED
    assert out[17].entry == NI  # already unimplemented: not counted as pruned
    assert r.pruned == {0: "restart_syscall", 2: "fork", 4: "write", 13: "time", 19: "lseek"}
    assert r.kept == {1: "keep list: process exit", 3: "used 10 times by the workload"}
    assert "# 7 was sys_waitpid" in r.table_text


def test_extra_keeps_by_name_or_number(table):
    r = prune_table(table, used={}, keep={}, extra=["write", "19"])
    assert set(r.kept) == {4, 19} and r.kept[19] == "kept on request"


def test_unknown_names_are_errors(table):
    with pytest.raises(ConfigError, match="'nosuchcall' is not a syscall name"):
        prune_table(table, used={}, keep={}, extra=["nosuchcall"])
    with pytest.raises(ConfigError, match="'bogus' is not in"):
        prune_table(table, used={}, keep={"bogus": "x"})


def test_report_and_digest(table):
    a = prune_table(table, used={3: 1}, keep={})
    b = prune_table(table, used={3: 1, 4: 1}, keep={})
    assert a.digest != b.digest
    text = report(a, syscall_names(table))
    assert "kept 1 syscalls, pruned" in text and "   3 read" in text and "lseek" in text


def test_systbl_override_names_the_table(tmp_path):
    arg = systbl_override(tmp_path / "syscall-abc.tbl")
    assert arg.startswith("cmd_systbl=$(CONFIG_SHELL) $(systbl) --abis common,$* ")
    assert arg.endswith(f"{tmp_path}/syscall-abc.tbl $@")


def test_malformed_table_line(write):
    bad = write("bad.tbl", "3\tcommon\n")
    with pytest.raises(ConfigError, match=r"bad.tbl:1: not a syscall table line"):
        parse_syscall_table(bad)


def test_reachable_syscalls_are_kept_unless_told_otherwise(table, tmp_path):
    reachable = {4: ["write@/bin/busybox"], 19: ["lseek@/bin/busybox", "main@/bin/x"]}
    safe = prune_table(table, used={3: 2}, keep={}, reachable=reachable)
    assert safe.kept[4] == "reachable from write@/bin/busybox"
    assert 19 in safe.kept and not safe.reachable_pruned
    risky = prune_table(table, used={3: 2}, keep={}, reachable=reachable, keep_reachable=False)
    assert risky.reachable_pruned == reachable
    assert set(risky.pruned) == {0, 1, 2, 4, 13, 19}
    text = report(risky, syscall_names(table))
    assert "AT RISK" in text and "lseek" in text and "main@/bin/x" in text


def test_notice_can_be_turned_off(table, tmp_path):
    r = prune_table(table, used={}, keep={}, entry_point=NI)
    assert {e.entry for e in entries_of(r.table_text, tmp_path).values()} == {NI}


def test_keep_syscall_numbers_are_range_checked(table):
    with pytest.raises(ConfigError, match="'999' is not a syscall name or number"):
        prune_table(table, used={}, keep={}, extra=["999"])
