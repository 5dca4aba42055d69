"""How many make jobs this worker may use.

Every worker may use every core this process may run on. Under pytest-xdist
the builds of a cycle form a chain (a candidate's build starts from its
parent's folder), so most of the time one worker builds while the others
boot, trace or wait for that build: splitting the cores would run the chain
at -j1. When two builds do run at once, twice as many jobs as cores cost
little. KQUAL_JOBS sets the number.
"""

from __future__ import annotations

import os


def build_jobs() -> int:
    if env := os.environ.get("KQUAL_JOBS"):
        return max(1, int(env))
    return max(1, len(os.sched_getaffinity(0)))
