"""At the end of a run: each cycle's selection and summary, and what CI reads of it.

The controller calls this once every worker is done. A cycle none of whose
candidates ran in this run is passed over; one that ran only in part says
so and selects nothing.
"""

from __future__ import annotations

from typing import Any

from ..core.paths import cycle_dir
from ..core.publish import write_atomic
from ..core.verdicts import Reason
from ..settings.load import Settings
from .bloat import bloat_tool
from .kernelci import kernelci_json
from .selection import decide, write_summary
from .summary import render

KERNELCI_FILE = "kernelci.json"  # results/<target>/: the run's verdicts, kunit_tool's --json shape
JUNIT_KEYS = (
    "reason",
    "linux_axf_bytes",
    "shell_ready_ms",
    "guest_shell_ready_ms",
    "delta_bytes",
    "kernel_resident_bytes",
    "mem_available_bytes",
)


def cycles_run(settings: Settings, run_id: str) -> list[str]:
    """The cycles some candidate of which has a record of this run."""
    target = settings.target.name
    return [
        name
        for name, cycle in settings.cycles.items()
        if decide(cycle, cycle_dir(target, name), run_id)
    ]


def write_summaries(settings: Settings, run_id: str, junit: Any = None) -> list[str]:
    """Select and summarize every cycle of this run; the texts for the terminal.

    `junit` is pytest's --junitxml report (None without one): the selection and
    each candidate's figures go to it as global properties.
    """
    texts = []
    target = settings.target
    bloat = bloat_tool(target)
    roots = {name: cycle_dir(target.name, name) for name in settings.cycles}
    kernelci = kernelci_json(
        settings.cycles, roots, run_id, "arm", f"{target.kernel.defconfig} ({target.name})"
    )
    if kernelci is not None:
        write_atomic(cycle_dir(target.name, "") / KERNELCI_FILE, kernelci)
    for name, cycle in settings.cycles.items():
        root = cycle_dir(target.name, name)
        summary = write_summary(cycle, root, run_id, bloat)
        if not summary:
            decisions = decide(cycle, root, run_id)
            if decisions:
                done = [d.candidate for d in decisions if d.reason != Reason.NOT_RUN]
                texts.append(
                    f"cycle {name}: {len(done)} of {len(cycle.candidates)} candidates went "
                    "through every step in this session; no selection written\n"
                )
            continue
        texts.append(render(summary))
        if junit is not None:
            junit.add_global_property(f"{name}.selected", summary.selected or "")
            for cand, d in summary.candidates.items():
                for key in JUNIT_KEYS:
                    junit.add_global_property(f"{name}.{cand}.{key}", getattr(d, key))
    return texts
