"""No QEMU outlives the process that started it: not on Ctrl-C, not on SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import sys, time
from pathlib import Path
from harness.settings.target import load_target
from harness.boot.qemu import QemuSession
session = QemuSession(load_target(), Path(sys.argv[1]), Path(sys.argv[2]))
try:
    with session:
        session.boot()
        print(session.pid, flush=True)
        time.sleep(60)
except KeyboardInterrupt:
    sys.exit(130)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_qemu_dies_with_its_owner(baseline, tmp_path, sig):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(baseline.axf), str(tmp_path / "console.log")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    try:
        qemu_pid = int(proc.stdout.readline())
        assert _alive(qemu_pid)
        proc.send_signal(sig)
        # QEMU must go first; the owner then exits. The waits are generous: on a
        # 2-core machine another worker's kernel build can starve both for seconds
        # (a 10 s wait for the owner once ran out under `make test`).
        deadline = time.monotonic() + 30
        while _alive(qemu_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(qemu_pid), f"QEMU {qemu_pid} outlived its owner after {sig.name}"
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
