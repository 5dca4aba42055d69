"""A patch series: what it lists must be there once each, and apply something."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from harness.core import jsonfile
from harness.core.errors import ConfigError, StepError
from harness.derive.prune import pruned_entry_point
from harness.image.kernel_source import _outcome_json, _read_outcome
from harness.image.patches import apply_series
from harness.kernel.syscall_table import NI, PRUNED
from harness.report.summary import _kernel_lines
from harness.settings.derivation import make
from harness.settings.patches import FEATURES, read_series, series


def test_the_series_file_gives_the_order(tmp_path):
    for name in ("b.patch", "a.patch"):
        (tmp_path / name).write_text("x")
    (tmp_path / "series").write_text("# order\nb.patch\na.patch  # last\n")
    assert [p.name for p in series(tmp_path)] == ["b.patch", "a.patch"]


def test_without_a_series_file_the_patches_sort_and_one_file_is_a_series(tmp_path):
    for name in ("2-b.patch", "1-a.patch"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in series(tmp_path)] == ["1-a.patch", "2-b.patch"]
    assert series(tmp_path / "1-a.patch") == [tmp_path / "1-a.patch"]


@pytest.mark.parametrize(
    "listing,message",
    [
        ("a.patch\na.patch\n", r"series:2: patch 'a.patch' is listed twice \(first on line 1\)"),
        ("nosuch.patch\n", "series:1: patch 'nosuch.patch' is listed but .* does not exist"),
        (".\n", r"series:1: '.' is not a patch file name"),
        ("../a.patch\n", r"series:1: '../a.patch' is not a patch file name"),
        (b"\xe9\n", "series:1: not UTF-8"),
    ],
)
def test_what_a_series_lists_is_checked_by_line(tmp_path, listing, message):
    (tmp_path / "a.patch").write_text("x")
    path = tmp_path / "series"
    path.write_bytes(listing if isinstance(listing, bytes) else listing.encode())
    with pytest.raises(ConfigError, match=message):
        series(tmp_path)


def test_a_patch_folder_that_applies_nothing_is_an_error(tmp_path):
    (tmp_path / "linux").mkdir()  # e.g. `patches: patches`, the folder of folders
    with pytest.raises(ConfigError, match="holds no 'series' file and no \\*.patch"):
        series(tmp_path)
    (tmp_path / "linux" / "series").mkdir()
    with pytest.raises(ConfigError, match="series: is a folder"):
        series(tmp_path / "linux")


# -- optional patches: named, left out, what is lost said -------------------

OURS = Path(__file__).resolve().parent.parent / "patches" / "linux"

ADD_LINE = """\
--- a/f.txt
+++ b/f.txt
@@ -1,2 +1,3 @@
 one
+one and a half
 two
"""


def test_our_series_marks_each_patch_with_what_it_gives():
    entries = read_series(OURS)
    assert [e.provides for e in entries] == [
        "pruned_notice",
        "text_order",
        "user_fault_signal",
        "unwinder_none",
        "crypto_lib_selftests",
    ]
    assert set(FEATURES) == {e.provides for e in entries}


@pytest.mark.parametrize(
    "line,message",
    [
        ("a.patch provides=nosuch\n", "series:1: provides=nosuch: no such feature"),
        ("a.patch optional\n", "series:1: 'optional' after the patch name"),
        ("a.patch provides=\n", "series:1: 'provides=' after the patch name"),
        ("a.patch provides=text_order x\n", "series:1: 'provides=text_order x' after"),
    ],
)
def test_a_series_option_is_checked_by_line(tmp_path, line, message):
    (tmp_path / "a.patch").write_text("x")
    (tmp_path / "series").write_text(line)
    with pytest.raises(ConfigError, match=message):
        read_series(tmp_path)


def _tree(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f.txt").write_text("one\ntwo\n")
    return tree


def test_our_patches_that_do_not_fit_a_tree_are_left_out_by_name(tmp_path):
    """Our real patches against a tree that is not the one they were written for:
    each one is named, what is lost is said, the rest of the series applies."""
    folder = tmp_path / "series"
    folder.mkdir()
    for p in OURS.glob("*.patch"):
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "0000-ours.patch").write_text(ADD_LINE)
    (folder / "series").write_text(
        "0000-ours.patch\n" + (OURS / "series").read_text()  # ours must apply
    )
    tree = _tree(tmp_path)
    log = tmp_path / "logs" / "patch.log"
    out = apply_series(folder, tree, log, "patch kernel")
    assert out.applied == ["0000-ours.patch"]
    assert (tree / "f.txt").read_text() == "one\none and a half\ntwo\n"
    assert [(lost.patch, lost.provides) for lost in out.lost] == [
        ("0001-arm-pruned-syscall-notice.patch", "pruned_notice"),
        ("0002-text-order-include.patch", "text_order"),
        ("0003-arm-v7m-user-fault-signal.patch", "user_fault_signal"),
        ("0004-arm-unwinder-none.patch", "unwinder_none"),
        ("0005-crypto-lib-selftests-option.patch", "crypto_lib_selftests"),
    ]
    assert out.features == frozenset()
    assert "sys_ni_syscall" in out.lost[0].lost and "order candidates" in out.lost[1].lost
    text = log.read_text()
    assert "--dry-run" in text and "left out: 0002-text-order-include.patch" in text
    assert not (tree / "arch").exists()  # a dry run writes nothing
    # Kept beside the tree, read back by a later run the same.
    record = tmp_path / "patches.json"
    record.write_text(jsonfile.dumps("kernel-patches", _outcome_json(out)))
    assert _read_outcome(record, folder) == out
    lines = _kernel_lines({"version": "6.12.57", "patches": _outcome_json(out)})
    assert lines[1] == "kernel 6.12.57: patches applied: 0000-ours.patch"
    assert lines[3].startswith("  not applied: 0002-text-order-include.patch (text_order):")


def test_an_optional_patch_that_fits_gives_its_feature_and_a_required_one_must_apply(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    (folder / "a.patch").write_text(ADD_LINE)
    (folder / "series").write_text("a.patch provides=text_order\n")
    tree = _tree(tmp_path)
    out = apply_series(folder, tree, tmp_path / "log", "patch kernel")
    assert out.applied == ["a.patch"] and out.features == {"text_order"} and not out.lost
    (folder / "series").write_text("a.patch\n")  # required, and now it is in already
    with pytest.raises(StepError, match="patch kernel: a.patch failed"):
        apply_series(folder, tree, tmp_path / "log", "patch kernel")


def test_a_stage_from_before_the_record_applied_the_whole_series(tmp_path):
    out = _read_outcome(tmp_path / "absent.json", OURS)
    assert out.features == set(FEATURES) and len(out.applied) == len(read_series(OURS))
    assert not out.lost


def test_without_a_feature_prune_points_at_ni_and_order_skips(tmp_path):
    has = types.SimpleNamespace(has=lambda f: True)
    lacks = types.SimpleNamespace(has=lambda f: False)
    assert pruned_entry_point(True, has) == PRUNED
    assert pruned_entry_point(True, lacks) == NI
    assert pruned_entry_point(False, has) == NI
    order = make({"order": {"list": "hot"}}, tmp_path / "cycles.yaml", 1, "candidate x")
    skip = order.skip(types.SimpleNamespace(source=lambda: lacks))
    assert skip is not None and skip.reason == "patch_not_applied"
    assert "patch 0002 did not apply" in skip.detail
