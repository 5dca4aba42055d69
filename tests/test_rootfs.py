"""A user's root filesystem: read as a folder or a newc cpio, with the target's nodes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.image.rootfs import pack_rootfs, with_nodes
from harness.settings.initramfs import InitramfsSpec, Node, load_spec
from harness.settings.load import read_settings
from harness.settings.rootfs import RootfsError, cpio_entries, folder_entries
from harness.settings.target import read_target

ROOT = Path(__file__).resolve().parent.parent
PROFILE = 'echo "kqual: shell ready" > /dev/kmsg\n'


def make_folder(root: Path) -> Path:
    """A small root filesystem: a 'binary', applet links, init files."""
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    box = root / "bin" / "busybox"
    box.write_bytes(b"\x7fELF-not-really")
    box.chmod(0o755)
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "init").symlink_to("/bin/busybox")
    (root / "etc" / "profile").write_text(PROFILE)
    return root


def newc(entries: list[tuple[str, int, bytes]], ino_of: dict[str, int] | None = None) -> bytes:
    """A newc archive of (name, mode, data), as `cpio -o -H newc` writes it."""
    out = b""
    ino_of = ino_of or {}
    for i, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")]):
        raw = name.encode() + b"\0"
        ino = ino_of.get(name, i + 1)
        nlink = sum(1 for v in ino_of.values() if v == ino) or 1
        fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(raw), 0]
        head = b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        head += b"\0" * (-len(head) % 4)
        out += head + data + b"\0" * (-len(data) % 4)
    return out


def test_folder_entries_parents_first_owned_by_root(tmp_path):
    root = make_folder(tmp_path / "rootfs")
    entries = {e.path: e for e in folder_entries(root)}
    assert list(entries)[:2] == ["/bin", "/etc"]
    assert entries["/bin/busybox"].kind == "file"
    assert entries["/bin/busybox"].mode == 0o755
    assert entries["/bin/busybox"].local == (root / "bin" / "busybox").resolve()
    assert entries["/bin/sh"].line() == "slink /bin/sh busybox 0777 0 0"
    assert entries["/init"].link == "/bin/busybox"
    assert {e.uid for e in entries.values()} == {0}


def test_folder_name_with_a_blank_is_refused_by_name(tmp_path):
    root = make_folder(tmp_path / "rootfs")
    (root / "etc" / "my file").write_text("x")
    with pytest.raises(RootfsError, match=r"'etc/my file'.*has a blank"):
        folder_entries(root)


def test_cpio_from_the_cpio_tool_reads_like_its_folder(tmp_path):
    root = make_folder(tmp_path / "rootfs")
    names = subprocess.run(
        ["find", ".", "-mindepth", "1"], cwd=root, capture_output=True, check=True
    ).stdout
    archive = tmp_path / "rootfs.cpio"
    with open(archive, "wb") as f:
        subprocess.run(
            ["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=names, stdout=f, check=True
        )
    from_cpio = {e.path: e for e in cpio_entries(archive, tmp_path / "files")}
    from_folder = {e.path: e for e in folder_entries(root)}
    assert from_cpio.keys() == from_folder.keys()
    for path, e in from_cpio.items():
        assert (e.kind, e.link) == (from_folder[path].kind, from_folder[path].link), path
        if e.kind == "file":
            assert e.local.read_bytes() == from_folder[path].local.read_bytes()
    # the archive keeps its owners: the test user's, not root's
    assert from_cpio["/bin/busybox"].uid == os.getuid()


def test_cpio_hard_links_each_get_the_data(tmp_path):
    archive = tmp_path / "a.cpio"
    archive.write_bytes(
        newc(
            [("bin", 0o40755, b""), ("bin/a", 0o100755, b""), ("bin/b", 0o100755, b"DATA")],
            ino_of={"bin/a": 7, "bin/b": 7},
        )
    )
    entries = {e.path: e for e in cpio_entries(archive, tmp_path / "files")}
    assert entries["/bin/a"].local.read_bytes() == b"DATA"
    assert entries["/bin/b"].local.read_bytes() == b"DATA"


def test_cpio_listing_without_a_folder_writes_nothing(tmp_path):
    archive = tmp_path / "a.cpio"
    archive.write_bytes(newc([("init", 0o100755, b"#!/bin/sh\n")]))
    (entry,) = cpio_entries(archive, None)
    assert entry.path == "/init" and entry.local is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.cpio"]


@pytest.mark.parametrize(
    "data, match",
    [
        (newc([("init", 0o100755, b"x" * 100)])[:150], r"runs past the end|no cpio"),
        (newc([("init", 0o100755, b"x")])[:-30], "no cpio"),
        (newc([("../etc/passwd", 0o100644, b"x")]), r"climbs out of the root"),
        (newc([("etc/a b", 0o100644, b"x")]), r"has a blank"),
        (newc([("dev/x", 0o170000, b"")]), "unknown file type"),
        (b"070701" + b"Z" * 104, "damaged cpio header"),
    ],
    ids=["cut-in-data", "no-trailer", "dotdot", "blank", "bad-type", "bad-hex"],
)
def test_bad_cpio_names_the_archive_and_what(tmp_path, data, match):
    archive = tmp_path / "bad.cpio"
    archive.write_bytes(data)
    with pytest.raises(RootfsError, match=match) as e:
        cpio_entries(archive, tmp_path / "files")
    assert str(archive) in str(e.value)


def test_declared_nodes_join_with_their_parents(tmp_path):
    root = make_folder(tmp_path / "rootfs")
    spec = InitramfsSpec(nodes=[Node("/dev/console", "c", 5, 1, "0600")])
    entries = with_nodes(folder_entries(root), spec, root)
    lines = [e.line() for e in entries]
    assert lines[-2:] == ["dir /dev 0755 0 0", "nod /dev/console 0600 0 0 c 5 1"]


def test_a_node_where_the_rootfs_has_a_file_is_refused(tmp_path):
    root = make_folder(tmp_path / "rootfs")
    (root / "dev").mkdir()
    (root / "dev" / "console").write_text("")
    spec = InitramfsSpec(nodes=[Node("/dev/console", "c", 5, 1, "0600")])
    with pytest.raises(RootfsError, match=r"/dev/console is a file in the root filesystem"):
        with_nodes(folder_entries(root), spec, root)


def test_pack_lists_every_entry_and_fingerprints_content(tmp_path):
    root = make_folder(tmp_path / "rootfs")
    spec = InitramfsSpec(nodes=[Node("/dev/null", "c", 1, 3, "0666")])
    packed = pack_rootfs(root, spec, tmp_path / "out")
    text = packed.list_path.read_text()
    assert f"file /bin/busybox {(root / 'bin' / 'busybox').resolve()} 0755 0 0" in text
    assert "nod /dev/null 0666 0 0 c 1 3" in text
    assert packed.busybox == (root / "bin" / "busybox").resolve()
    assert sorted(packed.applets) == ["/bin/sh", "/init"]
    before = packed.fingerprint.digest
    assert pack_rootfs(root, spec, tmp_path / "out").fingerprint.digest == before
    (root / "bin" / "busybox").write_bytes(b"\x7fELF-rebuilt")  # same list, new content
    assert pack_rootfs(root, spec, tmp_path / "out").fingerprint.digest != before
    assert sorted(p.name for p in root.rglob("*")) == [
        "bin",
        "busybox",
        "etc",
        "init",
        "profile",
        "sh",
    ]


def test_pack_wants_the_shell_ready_line(tmp_path):
    root = make_folder(tmp_path / "rootfs")
    (root / "etc" / "profile").write_text("echo hello\n")
    with pytest.raises(RootfsError, match=r"kqual: shell ready.*/dev/kmsg"):
        pack_rootfs(root, InitramfsSpec(), tmp_path / "out")


def test_nodes_only_description_names_the_extra_key(write):
    spec = write(
        "nodes.yaml",
        """
        nodes:
          - {path: /dev/console, type: c, major: 5, minor: 1}
        files:
          /etc/x: {text: hi}
        """,
    )
    assert load_spec(spec).files  # fine for kqual's own userspace
    with pytest.raises(ConfigError, match=r"nodes.yaml:3: 'files': .*only 'nodes'"):
        load_spec(spec, nodes_only=True)


def with_rootfs(target_copy: Path, rootfs: Path, initramfs: Path | None = None) -> Path:
    text = target_copy.read_text().replace('rootfs: ""', f"rootfs: {rootfs}")
    if initramfs is not None:
        text = text.replace(
            "initramfs: " + str(target_copy.parent / "userspace/initramfs.yaml"),
            f"initramfs: {initramfs}",
        )
    target_copy.write_text(text)
    return target_copy


def test_target_takes_a_folder_or_a_newc_archive(target_copy, tmp_path):
    root = make_folder(tmp_path / "rootfs")
    assert read_target(with_rootfs(target_copy, root)).rootfs == root
    assert read_target(ROOT / "configs/boards/an385.yaml").rootfs is None


@pytest.mark.parametrize(
    "content, match",
    [
        (None, "does not exist"),
        (b"\x1f\x8b\x08\x00rest", "gzip-compressed.*uncompressed cpio"),
        (b"\xfd7zXZ\x00", "xz-compressed"),
        (b"#!/bin/sh\n", "neither a folder nor a newc cpio"),
    ],
    ids=["missing", "gzip", "xz", "script"],
)
def test_target_refuses_a_rootfs_it_cannot_read(target_copy, tmp_path, content, match):
    rootfs = tmp_path / "rootfs.cpio.gz"
    if content is not None:
        rootfs.write_bytes(content)
    with_rootfs(target_copy, rootfs)
    with pytest.raises(ConfigError, match=match) as e:
        read_target(target_copy)
    assert f"{target_copy}:" in str(e.value) and "'userspace.rootfs'" in str(e.value)


def test_settings_want_init_in_the_rootfs_and_only_nodes(target_copy, tmp_path, write):
    root = make_folder(tmp_path / "rootfs")
    nodes = write("nodes.yaml", "nodes:\n  - {path: /dev/console, type: c, major: 5, minor: 1}\n")
    workload = ROOT / "configs/workload.yaml"
    with_rootfs(target_copy, root)
    with pytest.raises(ConfigError, match=r"'dirs': the target names its own root filesystem"):
        read_settings(target_copy, workload)  # the default description has files
    with_rootfs(target_copy, root, nodes)
    assert read_settings(target_copy, workload).target.rootfs == root
    (root / "init").unlink()
    with pytest.raises(ConfigError, match=r"rootfs: nothing in it is /init.*add /init to it"):
        read_settings(target_copy, workload)
    shutil.rmtree(root)
