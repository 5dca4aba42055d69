from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.settings.workload import load_workload


def test_real_workload_covers_the_seed_steps():
    from harness.core.paths import ROOT

    w = load_workload(ROOT / "configs" / "workload.yaml")
    assert len(w.labels) == len(set(w.labels)) >= 18
    assert {"busybox_help", "uname", "proc_self_stat", "file_hardlink", "cleanup"} <= set(w.labels)
    assert len(w.sha256) == 64


def test_line_format(write):
    p = write(
        "w.txt",
        """
        # comment
        uname|uname -a|^Linux

        pipes|printf 'a\\nb\\n' | grep b|^b$
    """,
    )
    w = load_workload(p)
    assert [(s.label, s.command, s.expect, s.line) for s in w.steps] == [
        ("uname", "uname -a", "^Linux", 2),
        ("pipes", "printf 'a\\nb\\n' | grep b", "^b$", 4),
    ]
    assert w.steps[0].exit_status == 0


@pytest.mark.parametrize(
    "body,line,message",
    [
        ("ok|true|.\nbroken line\n", 2, "expected 'label|command|expected regex'"),
        ("a|true|.\na|false|.\n", 2, "label 'a' already used on line 1"),
        ("a|true|(unclosed\n", 1, "bad regex"),
        ("bad label|true|.\n", 1, "may only hold"),
        ("a| |.\n", 1, "empty command"),
    ],
)
def test_line_format_errors_name_file_and_line(write, body, line, message):
    p = write("w.txt", body)
    with pytest.raises(ConfigError) as e:
        load_workload(p)
    assert str(e.value).startswith(f"{p}:{line}: ")
    assert message in str(e.value)


@pytest.mark.parametrize(
    "second,message",
    [
        ('{label: b, command: "true", expct: "."}', r"unknown key 'steps\[1\].expct'"),
        ('{label: b, command: "true", expect: "[x"}', r"step 'b': bad regex"),
        ('{label: a, command: "true", expect: "."}', r"label 'a' already used on line 2"),
    ],
)
def test_yaml_errors_name_line(write, second, message):
    p = write("w.yaml", f'steps:\n  - {{label: a, command: "true", expect: "."}}\n  - {second}\n')
    with pytest.raises(ConfigError, match=rf"w.yaml:3: {message}"):
        load_workload(p)


def test_empty_and_missing(write, tmp_path):
    with pytest.raises(ConfigError, match="no steps"):
        load_workload(write("w.txt", "# nothing\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_workload(tmp_path / "absent.yaml")


def test_sha256_changes_with_content(write):
    a = load_workload(write("a.txt", "x|true|.\n")).sha256
    b = load_workload(write("b.txt", "x|true|..\n")).sha256
    assert a != b


def test_step_failure_checks_status_then_output():
    from harness.settings.workload import Step

    step = Step("ls", "ls /tmp", r"^kq2\s*$")
    assert step.failure("kq2\n", 0) is None
    assert step.failure("kq2\n", 1) == "'ls /tmp' exited 1, expected 0"
    assert step.failure("other\n", 0) == r"output of 'ls /tmp' does not match /^kq2\s*$/"
    assert Step("x", "false", ".*", exit_status=None).failure("", 1) is None
