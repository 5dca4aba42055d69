"""The size search on two xdist workers reached over execnet sockets gives what
the serial search gives.

The workers run as they would on other hosts: each in its own folder, which
xdist fills by rsync with the project (never work/ or results/), and the
folders a search shares (KQUAL_WORK, KQUAL_RESULTS, KQUAL_CACHE) given to
them in the environment, as a shared mount would be. Here they are on
loopback. Each run has its own search cache and results, so neither reads
the other's outcomes; builds and the baseline's profile are shared.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import execnet

from harness.core.paths import ROOT, cache_dir, work_dir

BUDGET = "2"
CYCLE = "size_search_workers"  # its own build folders: the main run's stay as they are
SELECT = f"{CYCLE} and (test_trial or test_builds)"
PROJECT = ("harness", "configs", "patches", "test_cycles", "conftest.py", "pyproject.toml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp: Path, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KQUAL_RUN"))}
    env["KQUAL_WORK"] = str(work_dir())
    env["KQUAL_CACHE"] = str(tmp / f"cache-{name}")
    env["KQUAL_RESULTS"] = str(tmp / f"results-{name}")
    return env


def _cycles_file(tmp: Path) -> Path:
    """configs/cycles.yaml's size_search cycle alone, under another name, paths absolute."""
    import yaml

    data = yaml.safe_load((ROOT / "configs" / "cycles.yaml").read_text())
    text = yaml.safe_dump({"cycles": {CYCLE: data["cycles"]["size_search"]}}, sort_keys=False)
    path = tmp / "cycles.yaml"
    path.write_text(text.replace("configs/", f"{ROOT}/configs/"))
    return path


def _search(tmp: Path, name: str, extra: list[str]) -> dict:
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-k",
        SELECT,
        "--search-budget",
        BUDGET,
        f"--profile-cache={cache_dir() / 'profiles'}",  # one token: xdist rebases bare paths
        f"--cycles={_cycles_file(tmp)}",
        *extra,
    ]
    run = subprocess.run(
        args, cwd=ROOT, env=_env(tmp, name), capture_output=True, text=True, timeout=3000
    )
    assert run.returncode == 0, f"{name} search failed:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
    found = list((tmp / f"results-{name}").glob(f"*/{CYCLE}/search.json"))
    assert len(found) == 1, f"{name}: no search.json written\n{run.stdout[-2000:]}"
    return json.loads(found[0].read_text())


def test_two_socket_workers_give_the_serial_result(tmp_path):
    serial = _search(tmp_path, "serial", ["-p", "no:xdist"])

    server = Path(execnet.__file__).parent / "script" / "socketserver.py"
    ports = [_free_port(), _free_port()]
    folders = [tmp_path / f"host{i}" for i in range(2)]
    servers = []
    for port, folder in zip(ports, folders, strict=True):
        folder.mkdir()
        servers.append(
            subprocess.Popen(
                [sys.executable, str(server), f"127.0.0.1:{port}"],
                cwd=folder,
                env=_env(tmp_path, "sockets"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        time.sleep(1)
        tx = [
            a
            for port, folder in zip(ports, folders, strict=True)
            for a in ("--tx", f"socket=127.0.0.1:{port}//chdir={folder}")
        ]
        rsync = [f"--rsyncdir={ROOT / p}" for p in PROJECT]
        workers = _search(tmp_path, "sockets", [*tx, *rsync, "--dist", "load"])
    finally:
        for s in servers:
            s.kill()
            s.wait()

    def verdicts(data: dict) -> list[tuple[str, str, int | None]]:
        return [(t["label"], t["verdict"], t["saved_bytes"]) for t in data["trials"]]

    assert len(serial["trials"]) == int(BUDGET)
    assert verdicts(workers) == verdicts(serial)
    assert workers["values"] == serial["values"]
    assert workers["accepted"] == serial["accepted"]
    # Each worker really ran in its own folder, from the rsynced project.
    assert all((f / "harness" / "search" / "search.py").exists() for f in folders)
