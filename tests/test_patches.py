"""A patch series: what it lists must be there once each, and apply something."""

from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.settings.patches import series


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
