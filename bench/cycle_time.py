#!/usr/bin/env python3
"""Cold cycle wall time: derived builds against the same candidates built from scratch.

    python bench/cycle_time.py [--cycle syscall_prune] [--keep DIR]

Runs in a fresh work folder with ccache off, so nothing is warm. The source
tree, the userspace and the baseline profile are prepared first and left out
of both timings; then
  A (kqual): the baseline from scratch, each derived candidate from a copy of
             its parent's build folder;
  B (naive): each derived candidate from scratch in an empty folder.
The baseline is a from-scratch build in both arms, so it is measured once and
counted in both. Prints per-candidate times and the ratio B/A.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycle", default="syscall_prune")
    ap.add_argument("--keep", type=Path, default=None, help="work here and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kqual-bench-"))
    os.environ.update(
        KQUAL_WORK=str(root / "work"),
        KQUAL_RESULTS=str(root / "results"),
        CCACHE_DISABLE="1",
    )

    from harness.core.paths import ROOT
    from harness.cycle_run import CycleRunner, Environment
    from harness.image.candidate import definition_key
    from harness.image.kernel_source import prepare_source
    from harness.image.userspace import build_userspace
    from harness.report.results import Records
    from harness.settings.cycles import load_cycles
    from harness.settings.selectors import load_selectors
    from harness.settings.target import load_target
    from harness.settings.workload import load_workload
    from harness.trace.cache import ProfileCache

    class FromScratch(CycleRunner):
        """Same candidates, each in an empty folder; the generated inputs are A's."""

        def __init__(self, env, cycle, reference: CycleRunner) -> None:
            super().__init__(env, cycle)
            self.reference = reference

        def spec(self, name):
            s = super().spec(name)
            s.seed, s.build_name = None, f"scratch-{definition_key(s)}"
            return s

        @property
        def memo(self):
            return self.reference.memo

        @memo.setter
        def memo(self, value):
            pass  # shares the reference run's derived tables and fragments

    target = load_target()
    cycle = load_cycles()[args.cycle]
    env = Environment(
        target,
        load_workload(ROOT / "configs" / "workload.yaml"),
        ProfileCache(root / "work" / "cache"),
        load_selectors(),
        Records("bench"),
        [],
    )
    logs = root / "results" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    build_userspace(target, prepare_source(target, logs), logs)

    derived = CycleRunner(env, cycle)
    times: dict[tuple[str, str], float] = {}
    names = [c.name for c in cycle.candidates]
    t = time.monotonic()
    derived.built(cycle.baseline)
    times["A", cycle.baseline] = times["B", cycle.baseline] = time.monotonic() - t
    for c in cycle.candidates:
        for d in c.derivations:  # traces the baseline once, outside the timings
            d.contribute(derived)
    for name in names[1:]:
        t = time.monotonic()
        derived.built(name)
        times["A", name] = time.monotonic() - t
    scratch = FromScratch(env, cycle, derived)
    for name in names[1:]:
        t = time.monotonic()
        scratch.built(name)
        times["B", name] = time.monotonic() - t
        same = scratch.built(name).axf_bytes == derived.built(name).axf_bytes
        print(f"  {name}: from scratch gives the same linux.axf size: {same}")

    total_a = sum(v for (arm, _), v in times.items() if arm == "A")
    total_b = sum(v for (arm, _), v in times.items() if arm == "B")
    print(f"\n{'candidate':<16}{'A: derived':>12}{'B: scratch':>12}")
    for name in names:
        print(f"{name:<16}{times['A', name]:>11.0f}s{times['B', name]:>11.0f}s")
    print(f"{'cycle':<16}{total_a:>11.0f}s{total_b:>11.0f}s")
    derived_a = total_a - times["A", names[0]]
    derived_b = total_b - times["B", names[0]]
    print(
        f"from scratch / derived: {total_b / total_a:.2f}x "
        f"(derived candidates alone: {derived_b / max(1e-9, derived_a):.1f}x)"
    )
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
