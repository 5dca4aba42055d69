"""Build folders named by what they build: one folder per definition, shared by
every candidate of every cycle that builds it, deleted when none uses it."""

from __future__ import annotations

import pytest

from harness.image import build_folders
from harness.image.candidate import CandidateSpec, definition_key


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.setenv("KQUAL_WORK", str(tmp_path / "work"))
    return tmp_path / "work" / "build" / "t"


def test_the_key_follows_content_not_names_or_places(tmp_path):
    a, b, c = (tmp_path / n for n in ("a", "b", "c"))
    for p, text in ((a, "CONFIG_X=y\n"), (b, "CONFIG_X=y\n"), (c, "CONFIG_X=n\n")):
        p.mkdir()
        (p / "trim.config").write_text(text)
    key = definition_key(CandidateSpec("config-only", "pgo", [a / "trim.config"]))
    assert key == definition_key(CandidateSpec("trimmed", "other", [b / "trim.config"]))
    assert key != definition_key(CandidateSpec("config-only", "pgo", [c / "trim.config"]))
    assert key != definition_key(
        CandidateSpec("config-only", "pgo", [a / "trim.config"], ["cmd_systbl=x"])
    )
    assert key != definition_key(
        CandidateSpec("config-only", "pgo", [a / "trim.config"], text_order="*(.text.f)")
    )
    assert key.startswith("k-") and key == key.strip()


def test_a_folder_lives_while_a_candidate_uses_it(work):
    for name in ("k-1", "k-2"):
        (work / name).mkdir(parents=True)
    assert build_folders.claim("t", "syscall_prune/config-only", "k-1") == []
    assert build_folders.claim("t", "pgo/config-only", "k-1") == ["syscall_prune/config-only"]
    build_folders.claim("t", "pgo/config-only", "k-2")  # its definition changed
    assert (work / "k-1").is_dir()  # syscall_prune's config-only still builds there
    build_folders.claim("t", "syscall_prune/config-only", "k-2")
    assert not (work / "k-1").exists()  # nobody left: the disk is freed
    build_folders.release("t", "pgo/config-only")
    assert (work / "k-2").is_dir()
    build_folders.release("t", "syscall_prune/config-only")
    assert not (work / "k-2").exists()


def test_an_unreadable_index_starts_afresh(work):
    work.mkdir(parents=True)
    (work / build_folders.INDEX).write_text("{not json")
    assert build_folders.claim("t", "c/x", "k-3") == []
    assert build_folders.claim("t", "c/y", "k-3") == ["c/x"]
