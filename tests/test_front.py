"""The size-for-time front of the size search."""

from __future__ import annotations

from harness.search.front import Point, bytes_per_ms, front_chart, front_table, pareto, points
from harness.search.trial import TrialOutcome, Verdict

BASE = Point("syscall-prune", 1_000_000, 60.0, "base")


def outcome(label, size, ms, verdict=Verdict.ACCEPTED):
    o = TrialOutcome(label, [[label, "n"]], verdict)
    o.linux_axf_bytes, o.guest_ms = size, ms
    return o


TRIALS = [
    outcome("LOG_BUF_SHIFT=12", 810_000, 60.0),
    outcome("xz initramfs", 790_000, 85.2, Verdict.REGRESSION),
    outcome("KALLSYMS=n", 870_000, 59.5),
    outcome("BUG=n", 960_000, 61.0),  # beaten by LOG_BUF_SHIFT on both figures
    outcome("SYSFS=n", 970_000, 58.0, Verdict.BOOT_FAILURE),  # never a choice
    outcome("X=n", None, None),
]


def test_the_front_keeps_what_nothing_beats_on_both_figures():
    pts = points(BASE, TRIALS)
    assert [p.label for p in pts] == [
        "syscall-prune",
        "LOG_BUF_SHIFT=12",
        "xz initramfs",
        "KALLSYMS=n",
        "BUG=n",
    ]
    assert [p.label for p in pareto(pts)] == ["xz initramfs", "LOG_BUF_SHIFT=12", "KALLSYMS=n"]


def test_what_each_millisecond_buys():
    xz = Point("xz initramfs", 790_000, 85.0, Verdict.REGRESSION)
    assert bytes_per_ms(BASE, xz) == 210_000 / 25.0
    assert bytes_per_ms(BASE, Point("free", 900_000, 60.0, "accepted")) is None


def test_the_front_table_names_the_rejected_for_time_and_the_tolerance():
    text = front_table(BASE, points(BASE, TRIALS), 0.02, 62.0)
    assert "up to 63.240 ms, +2% on the baseline's 62.000 ms" in text
    row = next(line for line in text.splitlines() if "xz initramfs" in line)
    assert "790,000" in row and "85.200" in row and "210,000" in row and "regression" in row
    assert "8,333" in row  # bytes per ms
    assert "free" in next(line for line in text.splitlines() if "LOG_BUF_SHIFT" in line)
    assert "(2 more measured points are beaten on both bytes and time)" in text


def test_the_front_chart_is_written(tmp_path):
    paths = front_chart(BASE, points(BASE, TRIALS), 0.02, 62.0, tmp_path / "size_search-front")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert b"rejected: boot regression only" in paths[1].read_bytes()


def test_an_old_outcome_without_its_time_reads_back():
    data = outcome("A=n", 1, 1.0).as_json()
    del data["guest_ms"]
    assert TrialOutcome.from_json(data).guest_ms is None
