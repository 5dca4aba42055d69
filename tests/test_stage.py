from __future__ import annotations

import pytest

from harness.core.fingerprint import Fingerprint
from harness.core.stage import Stage


def test_fingerprint_tracks_content_not_location(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "x.config").write_text("CONFIG_A=y\n")
    fa = Fingerprint().add_tree("configs", a)
    fb = Fingerprint().add_tree("configs", b)
    assert fa.digest == fb.digest
    (b / "sub" / "x.config").write_text("CONFIG_A=n\n")
    assert Fingerprint().add_tree("configs", b).digest != fa.digest
    (a / "sub" / "x.config").rename(a / "sub" / "y.config")
    assert Fingerprint().add_tree("configs", a).digest != fa.digest


def test_fingerprint_parts_are_order_independent():
    f1 = Fingerprint().add_text("a", "1").add_text("b", "2")
    f2 = Fingerprint().add_text("b", "2").add_text("a", "1")
    assert f1.digest == f2.digest
    assert f1.digest != Fingerprint().add_text("a", "1").add_text("b", "3").digest


def test_stage_skips_when_unchanged_and_outputs_exist(tmp_path, said):
    out = tmp_path / "stage" / "out.bin"
    fp = Fingerprint().add_text("input", "v1")
    s = Stage("demo", tmp_path / "stage", fp, [out])
    assert s.begin() is True
    out.write_text("built")
    s.done()
    again = Stage("demo", tmp_path / "stage", Fingerprint().add_text("input", "v1"), [out])
    assert again.begin() is False
    assert "demo: up to date" in "\n".join(said)


def test_stage_rebuilds_on_changed_input_and_names_it(tmp_path, said):
    out = tmp_path / "stage" / "out.bin"
    s = Stage(
        "demo", tmp_path / "stage", Fingerprint().add_text("cfg", "a").add_text("x", "1"), [out]
    )
    s.begin()
    out.write_text("built")
    s.done()
    changed = Stage(
        "demo", tmp_path / "stage", Fingerprint().add_text("cfg", "b").add_text("x", "1"), [out]
    )
    assert changed.changed_parts() == ["cfg"]
    assert changed.begin() is True
    assert "changed: cfg" in "\n".join(said)
    # begin() drops the stamp: an interrupted rebuild is never taken as done.
    assert (
        Stage(
            "demo", tmp_path / "stage", Fingerprint().add_text("cfg", "a").add_text("x", "1"), [out]
        ).begin()
        is True
    )


def test_stage_rebuilds_when_output_missing(tmp_path):
    out = tmp_path / "stage" / "out.bin"
    fp = Fingerprint().add_text("input", "v1")
    s = Stage("demo", tmp_path / "stage", fp, [out])
    s.begin()
    out.write_text("x")
    s.done()
    out.unlink()
    assert Stage("demo", tmp_path / "stage", fp, [out]).begin() is True


@pytest.mark.needs("cross")
def test_kernel_fingerprint_follows_fragments_and_userspace(tmp_path):
    from harness.image.kernel_build import kernel_fingerprint
    from harness.image.kernel_source import KernelSource
    from harness.settings.target import read_target

    t = read_target()
    src = KernelSource(tmp_path, "6.12.0", Fingerprint().add_text("tarball", "x"))
    frag = tmp_path / "a.config"
    frag.write_text("CONFIG_A=y\n")
    ufp = Fingerprint().add_text("busybox", "1")
    base = kernel_fingerprint(t, src, [frag], ufp, []).digest
    assert kernel_fingerprint(t, src, [frag], ufp, []).digest == base
    frag.write_text("# CONFIG_A is not set\n")
    assert kernel_fingerprint(t, src, [frag], ufp, []).digest != base
    frag.write_text("CONFIG_A=y\n")
    assert (
        kernel_fingerprint(t, src, [frag], Fingerprint().add_text("busybox", "2"), []).digest
        != base
    )
    assert kernel_fingerprint(t, src, [frag], ufp, ["cmd_systbl=x"]).digest != base
    # a zImage build differs; the Image's keeps its fingerprint
    assert kernel_fingerprint(t, src, [frag], ufp, [], "", "").digest == base
    assert kernel_fingerprint(t, src, [frag], ufp, [], "", "zImage").digest != base


def test_what_changed_is_still_known_after_begin(tmp_path):
    """The caller decides how much to wipe after begin(): the old stamp must still answer."""
    out = tmp_path / "stage" / "out.bin"
    first = Stage("demo", tmp_path / "stage", Fingerprint().add_text("tool:gcc", "12"), [out])
    first.begin()
    out.write_text("built")
    first.done()
    new_tool = Stage("demo", tmp_path / "stage", Fingerprint().add_text("tool:gcc", "13"), [out])
    assert new_tool.begin() is True
    assert not new_tool.stamp.exists()
    assert new_tool.previous() is not None
    assert new_tool.changed_parts() == ["tool:gcc"]


def test_a_new_toolchain_wipes_the_kernel_build_folder(tmp_path, monkeypatch):
    """kernel_build removes the folder when the source or toolchain changed."""
    from harness.image import kernel_build

    folder = tmp_path / "build"
    folder.mkdir()
    (folder / "stale.o").write_text("old compiler's object")
    fp = Fingerprint().add_text("tool:gcc", "12")
    Stage("kernel x", folder, fp, []).done()
    calls = []

    def fake_fp(*args, **kwargs):
        return Fingerprint().add_text("tool:gcc", "13")

    def stop(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("stop before make")

    monkeypatch.setattr(kernel_build, "kernel_fingerprint", fake_fp)
    monkeypatch.setattr(kernel_build, "run_logged", stop)
    with pytest.raises(RuntimeError, match="stop before make"):
        kernel_build.build_kernel(
            type(
                "T",
                (),
                {"kernel": type("K", (), {"dtb": "x.dtb", "arch": "arm", "defconfig": "d"})()},
            )(),
            type("S", (), {"tree": tmp_path / "tree"})(),
            folder,
            [],
            tmp_path / "list",
            Fingerprint(),
            tmp_path / "log",
            "x",
        )
    assert not (folder / "stale.o").exists() and calls


def test_a_key_that_names_missing_code_is_an_error():
    """A stale module name (harness/build/ became harness/image/) adds nothing to a
    key without a word; it must fail instead."""
    with pytest.raises(ValueError, match="no module harness.build.kernel_build"):
        Fingerprint().add_code("build.kernel_build")
    assert Fingerprint().add_code("image.kernel_build").parts


def _fake_build(kernel_build, monkeypatch, tool: str):
    """build_kernel with make and the config check stubbed: what it decides, not what make does."""
    monkeypatch.setattr(
        kernel_build, "kernel_fingerprint", lambda *a, **k: Fingerprint().add_text("tool:gcc", tool)
    )
    monkeypatch.setattr(kernel_build, "run_logged", lambda *a, **k: None)
    monkeypatch.setattr(kernel_build, "check_applied", lambda *a, **k: [])
    monkeypatch.setattr(kernel_build, "parse_config", lambda *a, **k: {})
    monkeypatch.setattr(kernel_build, "make_args", lambda *a, **k: ["make"])
    monkeypatch.setattr(kernel_build, "reproducible_env", lambda *a, **k: {})

    def build(folder, tmp_path, seed=None):
        target = type("T", (), {"kernel": type("K", (), {"dtb": "x.dtb", "defconfig": "d"})()})()
        return kernel_build.build_kernel(
            target,
            type("S", (), {"tree": tmp_path / "tree"})(),
            folder,
            [],
            tmp_path / "list",
            Fingerprint(),
            tmp_path / "log",
            "x",
            seed=seed,
        )

    return build


def test_a_build_says_how_it_started_after_its_own_wipe(tmp_path, monkeypatch):
    """A folder wiped for a new toolchain is a full build, not an incremental one
    (the trial-cost figure compares trials with a full build)."""
    from harness.image import kernel_build

    folder = tmp_path / "build"
    folder.mkdir()
    (folder / ".config").write_text("CONFIG_OLD=y\n")
    Stage("kernel x", folder, Fingerprint().add_text("tool:gcc", "12"), []).done()
    built = _fake_build(kernel_build, monkeypatch, "13")(folder, tmp_path)
    assert (built.rebuilt, built.started_from) == (True, "scratch")


def test_a_build_in_a_kept_folder_is_incremental_and_a_new_one_from_a_seed_is_seeded(
    tmp_path, monkeypatch
):
    from harness.image import kernel_build

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / ".config").write_text("CONFIG_A=y\n")
    Stage("kernel x", kept, Fingerprint().add_text("tool:gcc", "12").add_text("f", "1"), []).done()
    build = _fake_build(kernel_build, monkeypatch, "12")
    assert build(kept, tmp_path).started_from == "incremental"

    seed = tmp_path / "parent"
    seed.mkdir()
    (seed / ".config").write_text("CONFIG_A=y\n")
    child = build(tmp_path / "child", tmp_path, seed=seed)
    assert child.started_from == "seed"
    assert (tmp_path / "child" / ".config").read_text() == "CONFIG_A=y\n"
    assert build(tmp_path / "fresh", tmp_path).started_from == "scratch"
