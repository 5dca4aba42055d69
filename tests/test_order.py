"""The pgo pieces: placement of an ordered .text list, locality, the concentration rule."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.core.errors import ConfigError
from harness.derive.placement import OrderNotApplied, check_placement
from harness.settings.derivation import make
from harness.trace.analysis import concentrated, locality
from harness.trace.parser import RawTrace
from harness.trace.symbols import Function, SymbolTable

MAP = """\
21008000 T _stext
21008100 T __kqual_text_order_start
21008100 T do_idle
21008180 t copy_page
21008200 T schedule_tail
21008260 t copy_page
21008300 T __kqual_text_order_end
21008300 T cold_one
21008400 T __schedule
"""


def test_placement_reads_the_block_in_list_order(write):
    p = check_placement(write("System.map", MAP), ["do_idle", "copy_page", "schedule_tail", "gone"])
    assert p.placed == ["do_idle", "copy_page", "schedule_tail"]
    assert p.several == {"copy_page": 2}
    assert p.missing == ["gone"]
    assert p.out_of_order == []
    assert (p.start, p.end, p.block_bytes) == (0x21008100, 0x21008300, 0x200)
    assert "placed 3" in p.report() and "matched nothing 1" in p.report()


def test_placement_catches_an_order_that_did_not_apply(write):
    swapped = check_placement(write("a.map", MAP), ["schedule_tail", "do_idle"])
    assert swapped.out_of_order == ["do_idle"]
    outside = check_placement(write("b.map", MAP), ["cold_one", "__schedule"])
    assert outside.placed == [] and outside.missing == ["cold_one", "__schedule"]
    with pytest.raises(OrderNotApplied, match="lacks patches/linux/0002"):
        check_placement(write("c.map", "21008000 T _stext\n"), ["do_idle"])


def test_concentration_rule():
    assert concentrated({"top32": 0.40, "top64": 0.51})  # today's baseline profile
    assert not concentrated({"top32": 0.29, "top64": 0.90})
    assert not concentrated({"top32": 0.60, "top64": 0.49})
    assert not concentrated({})


def test_locality_counts_pages_and_lines_of_text_only():
    syms = SymbolTable(
        [
            Function("a", 0x21000000, 0x3000, ".text"),
            Function("init", 0x21800000, 0x100, ".init.text"),
        ]
    )
    raw = RawTrace()
    raw.pc_hits = Counter(
        {
            0x21000000: 50,  # page 0, line 0
            0x21000010: 40,  # page 0, line 0
            0x21000040: 5,  # page 0, line 2
            0x21001000: 3,  # page 1
            0x21002FFE: 2,  # page 2
            0x21800000: 1000,  # .init.text: not counted
            0x8: 7,  # boot wrapper: not counted
        }
    )
    loc = locality(raw, syms)
    # 100 blocks in .text: page 0 holds 95 -> one page reaches 90%; lines: 90 in line 0
    assert loc == {"text_pages": 3, "hot90_pages": 1, "hot90_lines": 1}
    raw.pc_hits[0x21001000] = 60  # now page 1 (60) and page 0 (95) are needed for 90%
    assert locality(raw, syms)["hot90_pages"] == 2


def test_order_derivation_options_are_checked(tmp_path):
    where = "cycle 'pgo', candidate 'order-x'"
    assert make({"order": {"list": "full"}}, tmp_path / "c.yaml", 3, where).order_list == "full"
    with pytest.raises(ConfigError, match=r"c.yaml:3: .*list must be one of hot, full, not 'warm'"):
        make({"order": {"list": "warm"}}, tmp_path / "c.yaml", 3, where)


def test_a_new_text_order_relinks_and_the_same_one_does_not(tmp_path):
    from harness.image.kernel_build import TEXT_ORDER, _write_text_order

    (tmp_path / "vmlinux").write_text("linked")
    _write_text_order(tmp_path, "")
    assert "no text order" in (tmp_path / TEXT_ORDER).read_text()
    assert not (tmp_path / "vmlinux").exists()  # the list is new to this folder: link again
    (tmp_path / "vmlinux").write_text("linked")
    _write_text_order(tmp_path, "")
    assert (tmp_path / "vmlinux").exists()  # unchanged: kbuild has nothing to do
    _write_text_order(tmp_path, "*(.text.do_idle)\n")
    assert not (tmp_path / "vmlinux").exists()
    assert (tmp_path / TEXT_ORDER).read_text() == "*(.text.do_idle)\n"
