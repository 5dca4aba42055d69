from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from harness.core.errors import KqualError
from harness.trace import cache as profile_cache
from harness.trace.cache import CacheKey, ProfileCache, analysis_code_digest

KEY = CacheKey("img" * 8, "wl" * 8, "syscalls", '{"debug": "exec,cpu,nochain"}', "code")


def fill_ok(folder: Path) -> None:
    (folder / "profile.json").write_text('{"blocks": 1}\n')
    (folder / "syscalls.txt").write_text("3 read 1\n")


def test_fill_once_then_hit(tmp_path, said):
    cache = ProfileCache(tmp_path)
    calls = []
    first = cache.get_or_fill(KEY, lambda d: (calls.append(d), fill_ok(d)))
    second = cache.get_or_fill(KEY, lambda d: calls.append(d))
    assert (first.hit, second.hit) == (False, True) and len(calls) == 1
    assert first.folder == second.folder
    assert f"cache hit: {KEY}" in "\n".join(said)


@pytest.mark.parametrize(
    "field", ["image_fingerprint", "workload_sha256", "selector", "selector_spec", "analysis_code"]
)
def test_every_key_part_changes_the_key(field):
    assert replace(KEY, **{field: "other"}).digest != KEY.digest


def test_selectors_have_their_own_namespace(tmp_path):
    cache = ProfileCache(tmp_path)
    a = cache.get_or_fill(KEY, fill_ok)
    b = cache.get_or_fill(replace(KEY, selector="full"), fill_ok)
    assert a.folder.parent.name == "syscalls" and b.folder.parent.name == "full"


def test_analysis_code_digest_follows_every_imported_module(tmp_path):
    from harness.core.fingerprint import harness_modules

    top = Path(profile_cache.__file__).resolve().parent.parent
    names = {
        p.relative_to(top).as_posix()
        for p in harness_modules(*profile_cache.TRACE_CODE, follow=profile_cache.TRACE_FOLLOW)
    }
    # what runs the trace and reads it: none of it may be missing from the key
    assert {
        "trace/collect.py",
        "trace/parser.py",
        "trace/analysis.py",
        "trace/symbols.py",
        "boot/qemu.py",
        "boot/console.py",
        "core/jsonfile.py",
    } <= names
    # what only wraps or stores it, or describes the inputs: none of it shapes a profile
    assert not {"trace/cli.py", "trace/cache.py", "settings/target.py", "core/runner.py"} & names
    code = tmp_path / "code"
    for package in ("trace", "core", "boot", "settings"):
        (code / package).mkdir(parents=True)
    (code / "trace" / "collect.py").write_text(
        "from ..boot.helper import x\nfrom ..settings.target import T\n"
    )
    (code / "trace" / "parser.py").write_text("from . import other\n")
    (code / "trace" / "analysis.py").write_text("")
    (code / "trace" / "other.py").write_text("")
    (code / "trace" / "cli.py").write_text("from . import parser\n")
    (code / "core" / "jsonfile.py").write_text("")
    (code / "boot" / "helper.py").write_text("x = 1\n")
    (code / "boot" / "unrelated.py").write_text("")
    (code / "settings" / "target.py").write_text("T = 1\n")
    before = analysis_code_digest(code)
    for unrelated in ("boot/unrelated.py", "settings/target.py", "trace/cli.py"):
        (code / unrelated).write_text("# changed\n")
        assert analysis_code_digest(code) == before, unrelated
    (code / "boot" / "helper.py").write_text("x = 2\n")  # another package, two levels up
    after = analysis_code_digest(code)
    assert after != before
    (code / "trace" / "other.py").write_text("# changed\n")  # `from . import other`
    assert analysis_code_digest(code) != after


def test_failed_fill_leaves_nothing(tmp_path):
    cache = ProfileCache(tmp_path)

    def broken(folder: Path) -> None:
        (folder / "profile.json").write_text("{half")
        raise RuntimeError("trace truncated")

    with pytest.raises(RuntimeError):
        cache.get_or_fill(KEY, broken)
    leftovers = [p.name for p in (tmp_path / "syscalls").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
    assert cache.get_or_fill(KEY, fill_ok).hit is False


@pytest.mark.parametrize("damage", ["edit", "delete", "extra", "manifest"])
def test_corrupt_entry_is_discarded_and_rebuilt(tmp_path, damage):
    cache = ProfileCache(tmp_path)
    entry = cache.get_or_fill(KEY, fill_ok)
    target = entry.folder / "profile.json"
    target.chmod(0o644)
    if damage == "edit":
        target.write_text('{"blocks": 2}\n')
    elif damage == "delete":
        target.unlink()
    elif damage == "extra":
        (entry.folder / "stray.tmp").write_text("x")
    else:
        (entry.folder / "kqual-cache.json").chmod(0o644)
        (entry.folder / "kqual-cache.json").write_text("{not json")
    rebuilt = cache.get_or_fill(KEY, fill_ok)
    assert rebuilt.hit is False
    assert (rebuilt.folder / "profile.json").read_text() == '{"blocks": 1}\n'
    assert cache.valid(KEY)


def test_files_are_read_only_and_leave_by_copy(tmp_path):
    cache = ProfileCache(tmp_path / "cache")
    entry = cache.get_or_fill(KEY, fill_ok)
    cached = entry.folder / "profile.json"
    assert not cached.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    out = ProfileCache.materialize(entry, tmp_path / "results")
    copy = tmp_path / "results" / "profile.json"
    assert copy in out
    assert os.stat(copy).st_ino != os.stat(cached).st_ino and os.stat(cached).st_nlink == 1
    copy.write_text("scribbled")
    assert cached.read_text() == '{"blocks": 1}\n' and cache.valid(KEY)


def _worker(root: str, counter: str) -> bool:
    import time

    def slow_fill(folder: Path) -> None:
        with open(counter, "a") as f:
            f.write("fill\n")
        time.sleep(0.3)
        fill_ok(folder)

    return ProfileCache(Path(root)).get_or_fill(KEY, slow_fill).hit


def test_parallel_processes_fill_once(tmp_path):
    counter = tmp_path / "fills"
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(3) as pool:
        hits = pool.starmap(_worker, [(str(tmp_path / "c"), str(counter))] * 3)
    assert counter.read_text().count("fill") == 1
    assert sorted(hits) == [False, True, True]


def _manifest(cache: ProfileCache) -> Path:
    return cache.folder(KEY) / profile_cache.MANIFEST


@pytest.mark.parametrize(
    "manifest",
    ["[]", "null", '"text"', '{"key": null}', "NO_SCHEMA", "KEYFILES_LIST", "KEYFILES_EMPTY"],
)
def test_a_malformed_manifest_is_a_miss_not_a_crash(tmp_path, manifest):
    import json
    from dataclasses import asdict

    from harness.core import jsonfile

    cache = ProfileCache(tmp_path)
    cache.get_or_fill(KEY, fill_ok)
    path = _manifest(cache)
    path.chmod(0o644)
    good = json.loads(path.read_text())
    assert good["schema"] == jsonfile.schema("profile-entry")
    if manifest == "NO_SCHEMA":  # an entry written before manifests had one
        manifest = json.dumps({k: v for k, v in good.items() if k != "schema"})
    elif manifest == "KEYFILES_LIST":
        manifest = jsonfile.dumps("profile-entry", {"key": asdict(KEY), "files": ["profile.json"]})
    elif manifest == "KEYFILES_EMPTY":  # names no file: never a whole entry
        for p in cache.folder(KEY).iterdir():
            if p != path:
                p.chmod(0o644)
                p.unlink()
        manifest = jsonfile.dumps("profile-entry", {"key": asdict(KEY), "files": {}})
    path.write_text(manifest)
    assert not cache.valid(KEY)
    refilled = cache.get_or_fill(KEY, fill_ok)
    assert refilled.hit is False and cache.valid(KEY)


def test_an_entry_that_is_a_file_is_replaced(tmp_path):
    cache = ProfileCache(tmp_path)
    entry = cache.folder(KEY)
    entry.parent.mkdir(parents=True)
    entry.write_text("not a folder")
    assert not cache.valid(KEY)
    assert cache.get_or_fill(KEY, fill_ok).hit is False and cache.valid(KEY)


def test_a_cache_root_that_is_a_file_is_a_clear_error(tmp_path):
    root = tmp_path / "cache"
    root.write_text("oops")
    with pytest.raises(KqualError, match=r"is in the way .*move that file away"):
        ProfileCache(root).get_or_fill(KEY, fill_ok)


def test_interrupted_publish_leaves_no_entry(tmp_path, monkeypatch):
    """Ctrl-C while the entry is being published: nothing partial is visible, next run fills."""
    cache = ProfileCache(tmp_path)

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(profile_cache.os, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_fill(KEY, fill_ok)
    monkeypatch.undo()
    assert not cache.folder(KEY).exists()
    assert [
        p.name for p in cache.folder(KEY).parent.iterdir() if not p.name.endswith(".lock")
    ] == []
    assert cache.get_or_fill(KEY, fill_ok).hit is False and cache.valid(KEY)


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs (root only: CI runs as root)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)])
    if r.returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_under_the_cache_is_a_clear_error(tiny_fs):
    cache = ProfileCache(tiny_fs / "profiles")

    def big_fill(folder: Path) -> None:
        (folder / "profile.json").write_bytes(b"x" * 200_000)

    with pytest.raises(KqualError, match=r"no space left .*--profile-cache or KQUAL_CACHE"):
        cache.get_or_fill(KEY, big_fill)
    leftovers = [p for p in (tiny_fs / "profiles" / KEY.selector).iterdir()]
    assert all(p.name.endswith(".lock") for p in leftovers)
    assert not cache.valid(KEY)
