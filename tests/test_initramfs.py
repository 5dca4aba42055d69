from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.image.initramfs import render_list
from harness.settings.initramfs import load_spec


def test_real_description_renders_gen_init_cpio_list(tmp_path):
    from harness.settings.target import read_target

    spec = load_spec(read_target().initramfs_spec)
    text = render_list(
        spec, tmp_path / "busybox", ["bin/sh", "bin/ls", "sbin/init"], tmp_path / "files"
    )
    lines = text.splitlines()
    assert f"file /bin/busybox {tmp_path / 'busybox'} 0755 0 0" in lines
    assert "slink /bin/sh /bin/busybox 0777 0 0" in lines
    assert "slink /init /bin/busybox 0777 0 0" in lines
    assert "nod /dev/console 0600 0 0 c 5 1" in lines
    # Every folder comes before anything inside it.
    dirs = [ln.split()[1] for ln in lines if ln.startswith("dir ")]
    assert dirs.index("/etc") < dirs.index("/etc/init.d")
    rcs = [ln for ln in lines if ln.startswith("file /etc/init.d/rcS ")][0]
    local = rcs.split()[2]
    assert "Linux for Cortex-M" in open(local).read()
    assert rcs.endswith(" 0755 0 0")


def test_relative_path_is_rejected(write):
    p = write("i.yaml", "dirs: [bin]\n")
    with pytest.raises(ConfigError, match="must be absolute"):
        load_spec(p)


def test_unknown_key_is_rejected_with_line(write):
    p = write("i.yaml", "dirs: [/bin]\nnodez: []\n")
    with pytest.raises(ConfigError, match=r"i.yaml:2: unknown key 'nodez'"):
        load_spec(p)


def test_bad_node_type(write):
    p = write("i.yaml", "nodes:\n  - {path: /dev/x, type: q, major: 1, minor: 1}\n")
    with pytest.raises(ConfigError, match="type must be 'c' or 'b'"):
        load_spec(p)
