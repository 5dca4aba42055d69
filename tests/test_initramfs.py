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
    with pytest.raises(ConfigError, match="i.yaml:1: dirs entry 'bin': write an absolute path"):
        load_spec(p)


@pytest.mark.parametrize(
    "text,message",
    [
        # YAML reads 0755 unquoted as the number 493.
        (
            "files:\n  /etc/x:\n    text: a\n    mode: 0755\n",
            r"i.yaml:2: file /etc/x mode 493: quote it",
        ),
        ('files:\n  /etc/x:\n    text: a\n    mode: "0999"\n', "is not an octal mode"),
        ('files:\n  /etc/x:\n    text: a\n    mode: "rwxr-xr-x"\n', "is not an octal mode"),
        ("dirs: [/tmp/../escape]\n", r"i.yaml:1: dirs entry '/tmp/../escape'"),
        ("dirs: [/my dir]\n", "without blanks"),
        ("busybox: bin/busybox\n", r"i.yaml:1: 'busybox' 'bin/busybox'"),
        ("links:\n  /init: bin/ busybox\n", r"i.yaml:2: link /init -> 'bin/ busybox'"),
        (
            "nodes:\n  - {path: /dev/x, type: c, major: -1, minor: 0}\n",
            "'nodes\\[0\\].major' must be at least 0",
        ),
        (
            "nodes:\n  - {path: /dev/x, type: c, major: 1, minor: 3, mode: 666}\n",
            r"i.yaml:2: node /dev/x mode 666: quote it",
        ),
    ],
)
def test_what_gen_init_cpio_would_misread_is_refused_with_its_line(write, text, message):
    with pytest.raises(ConfigError, match=message):
        load_spec(write("i.yaml", text))


def test_unknown_key_is_rejected_with_line(write):
    p = write("i.yaml", "dirs: [/bin]\nnodez: []\n")
    with pytest.raises(ConfigError, match=r"i.yaml:2: unknown key 'nodez'"):
        load_spec(p)


def test_bad_node_type(write):
    p = write("i.yaml", "nodes:\n  - {path: /dev/x, type: q, major: 1, minor: 1}\n")
    with pytest.raises(ConfigError, match="type must be 'c' or 'b'"):
        load_spec(p)
