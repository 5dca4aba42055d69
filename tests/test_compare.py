"""kqual compare, subsystem rollups and budgets: on the records of a real run
(tests/data/compare: the size_search cycle's baseline and syscall-prune, with
the sizes.json kqual wrote from their build folders) and on hand-written cases."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.core import jsonfile
from harness.core.errors import ConfigError
from harness.report.budget_check import breaches, figures
from harness.report.compare import CompareError, compare, render, side
from harness.report.image_sizes import ImageSizes, read_sizes
from harness.report.subsystems import Subsystems, attribute, depth_view, rollup
from harness.settings.budget import load_budget

DATA = Path(__file__).parent / "data" / "compare"
OLD, NEW = DATA / "baseline", DATA / "syscall-prune"


def test_symbols_go_to_the_object_that_defines_them():
    objects = ["kernel/sched/core.o", "fs/open.o", "fs/proc/base.o"]
    defined = {
        "kernel/sched/core.o": [("schedule", "T", 100), ("helper", "t", 8)],
        "fs/open.o": [("do_sys_open", "T", 60), ("helper", "t", 12)],
        "fs/proc/base.o": [("proc_pid_lookup", "T", 40), ("gone", "T", 999)],
    }
    # vmlinux: `helper` twice (one static per object, told apart by size), a
    # linker-made table no object defines, and `gone` dropped by gc-sections.
    symbols = [
        ("schedule", "T", 100),
        ("helper", "t", 12),
        ("helper", "t", 8),
        ("do_sys_open", "T", 60),
        ("proc_pid_lookup", "T", 40),
        ("kallsyms_names", "R", 500),
    ]
    per_object, unattributed = attribute(symbols, objects, defined)
    assert per_object == {"kernel/sched/core.o": 108, "fs/open.o": 72, "fs/proc/base.o": 40}
    assert unattributed == 500
    subs = rollup(per_object, unattributed)
    assert subs.folders == {"kernel": 108, "kernel/sched": 108, "fs": 112, "fs/proc": 40}
    assert depth_view(subs, 1) == {"kernel": 108, "fs": 112}
    # fs's own objects stand apart from fs/proc at depth 2; every byte counts once.
    assert depth_view(subs, 2) == {"kernel/sched": 108, "fs/proc": 40, "fs/*": 72}


def test_a_top_folder_without_subfolders_keeps_its_name_at_depth_2():
    subs = rollup({"io_uring/io_uring.o": 30, "init/main.o": 5, "init/do_mounts.o": 7})
    assert depth_view(subs, 2) == {"io_uring": 30, "init": 12}


def test_real_rollups_cover_every_attributed_byte_at_both_depths():
    for folder in (OLD, NEW):
        sizes = read_sizes(folder)
        assert sizes is not None
        one, two = depth_view(sizes.subsystems, 1), depth_view(sizes.subsystems, 2)
        assert sum(one.values()) == sum(two.values()) > 500_000
        assert sizes.subsystems.folders["kernel"] >= sizes.subsystems.folders["kernel/sched"] > 0


def test_compare_of_a_real_run_names_where_the_bytes_went():
    c = compare(side(OLD), side(NEW))
    assert (c.old, c.new) == ("size_search/baseline", "size_search/syscall-prune")
    text = {r.name: r for r in c.sections}["text"]
    assert (text.old, text.new) == (1_733_800, 622_892) and text.delta == -1_110_908
    top1 = c.subsystems[1]
    assert top1[0].name == "net" and top1[0].new == 0 and top1[0].delta == -667_126
    assert len(c.subsystems[2]) == 15 and c.subsystems[2][0].name == "net/ipv4"
    options = {name: (old, new) for name, old, new in c.options}
    assert options["NET"] == ("y", "n") and options["IO_URING"] == ("y", "n")
    syscalls = {name: (old, new) for name, old, new in c.syscalls}
    assert syscalls["chroot"] == ("implemented", "pruned")  # its table pruned it
    assert syscalls["socket"] == ("implemented", "not_implemented")  # NET=n did
    assert sum(1 for _, new in syscalls.values() if new == "pruned") == 316
    time = {r.name: r for r in c.image}["guest shell-ready ms"]
    assert time.old == pytest.approx(61.768, abs=1e-3) and time.delta < 0
    resident = {r.name: r for r in c.image}["kernel resident bytes"]
    assert (resident.old, resident.new) == (2_800_800, 1_270_076)


def test_compare_renders_text_markdown_and_json(tmp_path, capsys):
    assert main(["compare", str(OLD), str(NEW), "--no-symbols"]) == 0
    text = capsys.readouterr().out
    assert "subsystems at depth 2 (top 15 by change)" in text and "net/ipv4" in text
    assert "NET" in text and "chroot" in text
    assert main(["compare", str(OLD), str(NEW), "--no-symbols", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("### kqual compare:") and "| `text` | 1,733,800 | 622,892 |" in md
    assert "<details><summary>syscalls" in md
    assert main(["compare", str(OLD), str(NEW), "--no-symbols", "--format", "json"]) == 0
    data = jsonfile.loads("compare", capsys.readouterr().out)
    assert data is not None and data["subsystems"]["1"][0]["name"] == "net"
    assert {"syscall": "chroot", "old": "implemented", "new": "pruned"} in data["syscalls"]


def test_top_cuts_every_table_symbols_included(tmp_path):
    from harness.report.bloat import parse

    for folder in (OLD, NEW):  # bloat-o-meter is given both vmlinux files
        shutil.copytree(folder, tmp_path / folder.name)
        (tmp_path / folder.name / "vmlinux").write_bytes(b"")

    fake = parse(
        "add/remove: 0/3 grow/shrink: 0/0 up/down: 0/-6 (-6)\n"
        "Function                                     old     new   delta\n"
        "a                                              3       -      -3\n"
        "b                                              2       -      -2\n"
        "c                                              1       -      -1\n"
    )
    old, new = side(tmp_path / OLD.name), side(tmp_path / NEW.name)
    c = compare(old, new, lambda old, new: fake, top=2)
    assert len(c.subsystems[1]) == len(c.subsystems[2]) == 2
    text = render(c)
    assert "  a " in text and "  b " in text and "  c " not in text


def test_a_cycle_folder_stands_for_its_selected_image(tmp_path):
    cycle = tmp_path / "size_search"
    shutil.copytree(NEW, cycle / "syscall-prune")
    (cycle / "summary.json").write_text(jsonfile.dumps("summary", {"selected": "syscall-prune"}))
    assert side(cycle).folder == cycle / "syscall-prune"
    assert side(cycle / "summary.json").label == "size_search/syscall-prune"
    (cycle / "summary.json").write_text(jsonfile.dumps("summary", {"selected": None}))
    with pytest.raises(CompareError, match="selects no candidate"):
        side(cycle)
    with pytest.raises(CompareError, match="neither a candidate's results folder"):
        side(tmp_path)


def test_a_folder_without_sizes_still_compares_what_it_has(tmp_path):
    shutil.copytree(NEW, tmp_path / "new")
    (tmp_path / "new" / "sizes.json").write_text("{not json")
    c = compare(side(OLD), side(tmp_path / "new"))
    assert not c.subsystems and not c.syscalls and c.sections
    assert any("no sizes.json" in n for n in c.notes)
    assert "note: no sizes.json" in render(c)


def _budget(tmp_path, text):
    path = tmp_path / "budget.yaml"
    path.write_text(text)
    return path


def test_a_budget_one_byte_under_kernel_sched_fails_naming_it(tmp_path, capsys):
    sizes = read_sizes(NEW)
    assert sizes is not None
    sched = sizes.subsystems.folders["kernel/sched"]
    under = _budget(tmp_path, f"buckets:\n  text: 700000\n  kernel/sched: {sched - 1}\n")
    over = breaches(load_budget(under), sizes)
    assert [(f.bucket.name, f.bytes, f.bucket.ceiling) for f in over] == [
        ("kernel/sched", sched, sched - 1)
    ]
    assert main(["compare", str(OLD), str(NEW), "--no-symbols", "--budget", str(under)]) == 1
    out = capsys.readouterr().out
    assert f"OVER kernel/sched: {sched:,} bytes, ceiling {sched - 1:,} [{under}:3]" in out
    exact = _budget(tmp_path, f"buckets:\n  kernel/sched: {sched}\n  linux.axf: 1386964\n")
    assert not breaches(load_budget(exact), sizes)
    assert main(["compare", str(OLD), str(NEW), "--no-symbols", "--budget", str(exact)]) == 0


def test_a_noise_band_and_a_folder_the_image_lacks(tmp_path):
    sizes = read_sizes(NEW)
    assert sizes is not None
    text = sizes.sections["text"]
    path = _budget(
        tmp_path, f"noise: 10\nbuckets:\n  text: {{max: {text - 10}}}\n  net: 0\n  rodata: 1\n"
    )
    figs = {f.bucket.name: f for f in figures(load_budget(path), sizes)}
    assert not figs["text"].over  # within the band
    assert not figs["net"].over and not figs["net"].present
    assert "no object of the image is in this folder" in figs["net"].line("b.yaml")
    assert figs["rodata"].over


@pytest.mark.parametrize(
    "text,line,words",
    [
        ("buckets:\n  ../etc: 5\n", 2, "a source folder"),
        ("buckets:\n  kernel: -1\n", 2, "byte count"),
        ("buckets:\n  kernel: {max: 5, band: 1}\n", 2, "optionally noise"),
        ("budgets:\n  kernel: 5\n", 1, "unknown key 'budgets'"),
        ("buckets:\n  kernel: [5\n", None, "malformed YAML"),
        ("noise: yes\nbuckets:\n  text: 5\n", 1, "'noise' must be a byte count"),
        ("buckets: {}\n", 1, "'buckets' must map"),
    ],
)
def test_bad_budget_files_name_their_line(tmp_path, text, line, words):
    path = _budget(tmp_path, text)
    with pytest.raises(ConfigError, match=words) as e:
        load_budget(path)
    if line is not None:
        assert e.value.line == line


def test_a_bad_budget_makes_compare_exit_2(tmp_path, capsys):
    path = _budget(tmp_path, "buckets:\n  /abs: 5\n")
    assert main(["compare", str(OLD), str(NEW), "--no-symbols", "--budget", str(path)]) == 2
    assert f"{path}:2" in capsys.readouterr().err


def test_sizes_json_keeps_its_types():
    data = json.loads((NEW / "sizes.json").read_text())
    data["resident_bytes"] = "1270076"
    with pytest.raises(ValueError):
        ImageSizes.from_json(data)
    with pytest.raises(ValueError):
        Subsystems.from_json({"folders": {"kernel": 1.5}})
