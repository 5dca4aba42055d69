"""Code locality of every candidate of a cycle that measures it (pgo).

Each candidate is traced running the workload (the cycle's locality_selector)
and its executed blocks are counted by address: the 4 KiB pages of kernel
.text that ran, and the fewest pages and 32-byte lines that hold 90% of the
executed blocks. The figures go to the candidate's record and the summary.
"""

from __future__ import annotations


def test_locality(cycle_runners, locality_candidate, record_property):
    cycle, name = locality_candidate
    loc = cycle_runners[cycle].locality(name)
    for key, value in loc.items():
        record_property(key, value)
    assert loc["text_pages"] > 0, f"{cycle}/{name}: no kernel .text ran in the trace"
    assert loc["hot90_pages"] <= loc["text_pages"]
    assert loc["hot90_pages"] <= loc["hot90_lines"] <= loc["text_pages"] * 128
