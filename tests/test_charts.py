"""Charts a person can read: labels kept apart, each decision by its marker."""

from __future__ import annotations

import itertools
from pathlib import Path

from harness.core import figures
from harness.report.charts import DECISION_STYLE, size_time_figure, size_vs_time
from harness.report.summary import Decision, Summary

# The syscall_prune cycle of a real run: syscall-prune and syscall-prune-trace
# are 448 bytes and 0.1 ms apart, and printed their labels over each other.
CANDIDATES = [
    ("baseline", "larger_than_selected", 2_935_604, 61.768),
    ("config-only", "larger_than_selected", 1_405_012, 57.771),
    ("syscall-prune", "selected", 1_386_964, 57.085),
    ("syscall-prune-trace", "at_risk", 1_386_516, 57.062),
]


def summary() -> Summary:
    cands = {n: Decision(n, r, "", b, None, ms) for n, r, b, ms in CANDIDATES}
    return Summary("syscall_prune", "r", "baseline", "syscall-prune", {}, cands)


def test_labels_do_not_overlap_each_other_or_a_marker():
    fig, labels = size_time_figure(summary())
    renderer = fig.canvas.get_renderer()
    boxes = {a.get_text(): a.get_window_extent(renderer) for a in labels}
    assert set(boxes) == {n for n, *_ in CANDIDATES}
    for (n1, b1), (n2, b2) in itertools.combinations(boxes.items(), 2):
        assert not b1.overlaps(b2), f"labels of {n1} and {n2} overlap"
    ax = fig.axes[0]
    for name, _, size, ms in CANDIDATES:
        cx, cy = ax.transData.transform((ms, size / 1024))
        for label, box in boxes.items():
            assert not box.contains(cx, cy), f"the label {label} covers {name}'s marker"
    figures.pyplot().close(fig)


def test_each_decision_has_its_marker_in_the_legend(tmp_path):
    fig, _ = size_time_figure(summary())
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["larger_than_selected", "selected", "at_risk"]
    markers = {DECISION_STYLE[r][0] for r in ("selected", "at_risk", "larger_than_selected")}
    assert len(markers) == 3
    figures.pyplot().close(fig)
    paths = size_vs_time(summary(), tmp_path / "c-size-vs-time")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size for p in paths)


def test_many_points_in_one_spot_still_get_labels_apart():
    pts = [
        (f"trial-{i}", "larger_than_selected", 900_000 + i * 50, 50.0 + i * 0.01) for i in range(8)
    ]
    cands = {n: Decision(n, r, "", b, None, ms) for n, r, b, ms in pts}
    fig, labels = size_time_figure(Summary("c", "r", "trial-0", None, {}, cands))
    renderer = fig.canvas.get_renderer()
    boxes = [a.get_window_extent(renderer) for a in labels]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    figures.pyplot().close(fig)


def test_the_boot_phases_chart_stacks_each_candidates_phases(tmp_path):
    from harness.boot.initcalls import timeline
    from harness.report.charts import boot_phases
    from harness.report.summary import render

    real = (Path(__file__).parent / "data" / "initcalls" / "an385-syscall-prune.log").read_text()
    tl = timeline(real, 61.221)
    s = summary()
    for name, d in s.candidates.items():
        d.boot_phases = dict(tl.phases, decompress=10.8 if name == "syscall-prune" else 0.0)
        d.top_initcalls = [(c.name, c.usecs) for c in tl.top(10)]
    paths = boot_phases(s, tmp_path / "c-boot-phases")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    svg = paths[1].read_text()
    assert "unpack_initramfs" in svg and "syscall-prune-trace" in svg
    out = render(s)
    assert (
        "boot phases ms" in out
        and "slowest initcalls of baseline (us): populate_rootfs 5,354" in out
    )
