from __future__ import annotations

import re

import pytest

from harness.core.errors import ConfigError
from harness.settings.target import load_target, read_target


def edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path, needle):
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_real_target_loads_into_typed_records():
    t = read_target()
    assert t.qemu.machine == "mps2-an385"
    assert t.qemu.cpu == "cortex-m3"
    assert t.memory.load_address == 0x21008000
    assert t.memory.dtb_address >= 0x1000
    assert t.cpu_cflags[0] == "-mcpu=cortex-m3"
    assert all(p.is_file() for p in t.fragment_paths)


def test_an386_needs_only_this_file(target_copy):
    edit(target_copy, "machine: mps2-an385", "machine: mps2-an386")
    edit(target_copy, "cpu: cortex-m3", "cpu: cortex-m4")
    t = read_target(target_copy)
    assert (t.qemu.machine, t.qemu.cpu) == ("mps2-an386", "cortex-m4")
    assert "-mcpu=cortex-m4" in t.cpu_cflags


def test_unknown_key_names_file_line_and_key(target_copy):
    edit(target_copy, "  cpu: cortex-m3", "  cpu: cortex-m3\n  cpus: 2")
    with pytest.raises(ConfigError) as e:
        read_target(target_copy)
    msg = str(e.value)
    assert f"{target_copy}:{line_of(target_copy, 'cpus: 2')}:" in msg
    assert "unknown key 'qemu.cpus'" in msg


def test_wrong_type_names_key(target_copy):
    edit(target_copy, "boots: 3", "boots: three")
    with pytest.raises(ConfigError, match=r"'boot.boots' must be an integer, not 'three'") as e:
        read_target(target_copy)
    assert f":{line_of(target_copy, 'boots: three')}:" in str(e.value)


def test_missing_fragment_names_its_index(target_copy):
    edit(target_copy, "configs/kernel/boot.config]", "nowhere.config]")
    with pytest.raises(ConfigError, match=r"kernel.fragments\[2\].*not found"):
        read_target(target_copy)


def test_missing_source_tarball(target_copy):
    edit(target_copy, "/usr/src/linux-source-6.12.tar.xz", "/nonexistent/linux.tar.xz")
    with pytest.raises(ConfigError, match=r"'kernel.source'.*/nonexistent/linux.tar.xz"):
        load_target(target_copy)


def test_dtb_below_0x1000_is_rejected(target_copy):
    edit(target_copy, "dtb_address: 0x00001000", "dtb_address: 0x58")
    with pytest.raises(ConfigError, match="below 0x1000"):
        read_target(target_copy)


def test_malformed_yaml_gives_line(write):
    p = write("t.yaml", "name: x\nqemu:\n  machine: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        read_target(p)
    assert re.search(rf"{p}:\d+: malformed YAML", str(e.value))


def test_missing_required_key(write):
    p = write("t.yaml", "qemu:\n  machine: mps2-an385\n")
    with pytest.raises(ConfigError, match="missing key 'name'"):
        read_target(p)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        read_target(tmp_path / "none.yaml")


def test_targets_by_name_and_path(tmp_path):
    from harness.settings.target import TARGETS, target_path

    assert target_path("an386") == TARGETS / "an386.yaml"
    assert read_target(target_path("an386")).qemu.cpu == "cortex-m4"
    assert read_target(target_path("an385")).name == "mps2-an385"
    own = tmp_path / "mine.yaml"
    own.write_text("x")
    assert target_path(str(own)) == own
    with pytest.raises(
        ConfigError, match=r"no target 'an999' \(known: an385-linux-6.1, an385, an386\)"
    ):
        target_path("an999")


def test_results_and_builds_are_kept_apart_by_target(monkeypatch, tmp_path):
    from harness.core.paths import candidate_dir
    from harness.image.candidate import build_folder
    from harness.settings.target import target_path

    monkeypatch.setenv("KQUAL_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("KQUAL_WORK", str(tmp_path / "work"))
    a, b = (read_target(target_path(n)) for n in ("an385", "an386"))
    assert candidate_dir(a.name, "c", "x") != candidate_dir(b.name, "c", "x")
    assert candidate_dir(b.name, "c", "x") == tmp_path / "results" / "mps2-an386" / "c" / "x"
    assert build_folder(a, "baseline") != build_folder(b, "baseline")


def test_extends_is_found_next_to_the_board_and_a_loop_is_named(tmp_path, monkeypatch):
    """`extends: base.yaml` is the file beside this one; two boards that extend each
    other are one line naming the loop, not a RecursionError."""
    from harness.settings.target import TARGETS

    base = tmp_path / "base.yaml"
    base.write_text((TARGETS / "an385.yaml").read_text())
    mine = tmp_path / "mine.yaml"
    mine.write_text("extends: base.yaml\nname: mine\n")
    monkeypatch.chdir("/")  # not the board's folder: still found beside it
    assert read_target(mine).name == "mine"
    edit(base, "name: mps2-an385", "extends: mine.yaml\nname: mps2-an385")
    with pytest.raises(ConfigError, match=r"'extends' \S+ extends this file again"):
        read_target(mine)


def test_a_target_file_is_found_from_the_current_folder(tmp_path, monkeypatch):
    from harness.settings.target import TARGETS, target_path

    (tmp_path / "board.yaml").write_text((TARGETS / "an385.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert target_path("board.yaml") == tmp_path / "board.yaml"
    with pytest.raises(ConfigError, match=r"--target: target file 'nosuch.yaml' not found \(tried"):
        target_path("nosuch.yaml")
    with pytest.raises(ConfigError, match="an384.yaml:1: 'extends': no target 'an384'"):
        (tmp_path / "an384.yaml").write_text("extends: an384x\n")
        edit(tmp_path / "an384.yaml", "an384x", "an384")
        read_target(tmp_path / "an384.yaml")
