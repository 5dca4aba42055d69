"""How many make jobs this worker may use.

Under pytest-xdist every worker builds at once, so the cores this process may
run on are split evenly between the workers.
"""

from __future__ import annotations

import os


def build_jobs() -> int:
    if env := os.environ.get("KQUAL_JOBS"):
        return max(1, int(env))
    cores = len(os.sched_getaffinity(0))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return max(1, cores // max(1, workers))
