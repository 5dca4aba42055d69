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


def test_hot_order_places_its_functions_first_and_packs_the_hot_code(cycle_runners, target):
    """The layout mechanism end to end, whatever the concentration rule decides for
    the cycle: syscall-prune plus hot.order, linked, checked, and measured."""
    from harness.settings.cycles import CandidateDef
    from harness.settings.derivation import make

    runner = cycle_runners["pgo"]
    name = "order-hot-unconditional"
    if not any(c.name == name for c in runner.declared()):
        c = CandidateDef(name=name, base="syscall-prune")
        c.derivations = [
            make(
                {"order": {"list": "hot", "selector": "locality", "require_concentration": False}},
                None,
                None,
                name,
            )
        ]
        runner.declare(c)
    built, base = runner.built(name), runner.built("syscall-prune")
    placement = (built.results / "placement.txt").read_text()
    listed = (built.results / "hot.order").read_text().split()
    assert listed and f"listed {len(listed)}, placed " in placement
    ordered = runner.locality(name)
    plain = runner.locality("syscall-prune")
    assert ordered["hot90_pages"] < plain["hot90_pages"], (ordered, plain)
    assert built.axf_bytes <= base.axf_bytes * 1.01
