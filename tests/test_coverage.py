from __future__ import annotations

from pathlib import Path

import pytest

from harness.boot.coverage import applet_coverage, applets_in
from harness.settings.workload import load_workload

APPLETS = {"ls", "cat", "grep", "wc", "rm", "busybox", "cttyhack", "sh", "[", "true", "sleep"}


@pytest.mark.parametrize(
    "command,used",
    [
        ("ls /bin", {"ls"}),
        ("cat /proc/version | grep Linux && wc -l < /etc/inittab", {"cat", "grep", "wc"}),
        ("rm /tmp/a; /bin/true || busybox cat x", {"rm", "true", "busybox", "cat"}),
        ("cttyhack sh -c 'ls'", {"cttyhack", "sh"}),
        ("X=1 ls $(cat f) `wc x`", {"ls", "cat", "wc"}),
        ("[ -d /tmp ] && echo ok", {"["}),
        ("sleep 30 & kill $!", {"sleep"}),
        ("if true; then ls; fi", {"true", "ls"}),
        ("echo 'ls | cat'", set()),  # quoted: no command
        ("echo 'ls | cat", {"cat"}),  # an unclosed quote: split on operators, no crash
        ("wc -c < /tmp/x > /tmp/y", {"wc"}),
        ("lsof /x", set()),  # not an applet
    ],
)
def test_applets_in(command, used):
    assert applets_in(command, APPLETS) == used


def test_the_real_workload_covers_what_it_names(tmp_path):
    root = Path(__file__).resolve().parent.parent
    workload = load_workload(root / "configs" / "workload.yaml")
    cov = applet_coverage(workload, ["/bin/ls", "/usr/bin/wc", "/sbin/nosuchapplet"])
    assert cov.installed == ["busybox", "ls", "nosuchapplet", "wc"]
    assert cov.missing == ["nosuchapplet"]
    assert cov.as_json() == {"installed": 4, "exercised": 3, "missing": ["nosuchapplet"]}
