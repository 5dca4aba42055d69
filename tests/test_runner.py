from __future__ import annotations

import pytest

from harness.core.errors import StepError, ToolMissingError
from harness.core.runner import require_tool, run_logged


def test_missing_tool_names_the_package():
    with pytest.raises(ToolMissingError, match=r"'fdtput-nope' was not found.*Install"):
        require_tool("fdtput-nope")
    with pytest.raises(ToolMissingError, match="qemu-system-arm"):
        from harness.core import runner

        runner.PACKAGES["kqual-fake-qemu"] = "qemu-system-arm"
        require_tool("kqual-fake-qemu")


def test_failure_carries_the_log_tail(tmp_path):
    log = tmp_path / "step.log"
    script = "for i in $(seq 1 100); do echo line$i; done; echo 'error: it broke' >&2; exit 3"
    with pytest.raises(StepError) as e:
        run_logged(["sh", "-c", script], log, "demo step")
    msg = str(e.value)
    assert "demo step failed" in msg and "exited 3" in msg and f"full log: {log}" in msg
    assert "error: it broke" in msg and "line100" in msg and "line1\n" not in msg
    full = log.read_text()
    assert "line1\n" in full and "error: it broke" in full  # the whole output is kept


def test_success_appends(tmp_path):
    log = tmp_path / "l.log"
    run_logged(["sh", "-c", "echo one"], log, "a")
    run_logged(["sh", "-c", "echo two"], log, "b", append=True)
    assert "one" in log.read_text() and "two" in log.read_text()
