"""The target's toolchain: a prefix on PATH or a folder with a prefix, checked
before any build, and identified in the fingerprint by version and file."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.core.paths import ROOT
from harness.image.bootwrap import wrap
from harness.settings.target import read_target
from harness.settings.toolchain import TOOLS, cross_prefix, find_toolchain, target_toolchain

DEFAULT = "arm-none-eabi-"


def link_folder(folder: Path, prefix: str, to: str = DEFAULT) -> str:
    """A folder of `<prefix><tool>` links to the installed `<to><tool>`."""
    folder.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        real = shutil.which(to + tool)
        assert real, to + tool
        (folder / (prefix + tool)).symlink_to(real)
    return f"{folder}/{prefix}"


def test_a_bare_prefix_stays_for_path_and_a_folder_becomes_absolute():
    assert cross_prefix(DEFAULT) == DEFAULT
    assert cross_prefix("tools/bin/arm-kq-eabi-") == f"{ROOT}/tools/bin/arm-kq-eabi-"
    assert cross_prefix("/opt/x/bin/arm-linux-gnueabihf-") == "/opt/x/bin/arm-linux-gnueabihf-"


@pytest.mark.needs("cross")
def test_a_folder_of_links_is_the_same_compiler_and_a_wrapper_script_is_another(tmp_path):
    default = find_toolchain(DEFAULT, "cortex-m3")
    same = find_toolchain(link_folder(tmp_path / "same", DEFAULT), "cortex-m3")
    assert same.prefix == f"{tmp_path}/same/{DEFAULT}"
    assert same.fingerprint.digest == default.fingerprint.digest  # links: one compiler
    # Another name for it prints another version line, which the kernel records
    # (CONFIG_CC_VERSION_TEXT, /proc/version): another build.
    renamed = find_toolchain(link_folder(tmp_path / "links", "arm-kq-eabi-"), "cortex-m3")
    assert renamed.gcc == default.gcc
    assert renamed.version == default.version.replace(DEFAULT, "arm-kq-eabi-")
    assert renamed.fingerprint.digest != default.fingerprint.digest
    # A script in front of the compiler is a compiler of its own: its own file.
    scripts = tmp_path / "scripts"
    prefix = link_folder(scripts, DEFAULT)
    gcc = scripts / f"{DEFAULT}gcc"
    gcc.unlink()
    gcc.write_text(f'#!/bin/sh\nexec {default.gcc} "$@"\n')
    gcc.chmod(0o755)
    wrapped = find_toolchain(prefix, "cortex-m3")
    assert wrapped.gcc == gcc and wrapped.version == default.version
    assert wrapped.fingerprint.digest != default.fingerprint.digest


@pytest.mark.needs("cross", "dtc")
def test_the_boot_wrapper_built_with_a_link_folder_is_byte_identical(tmp_path):
    """gcc and ld called through another prefix in a folder, as every build calls them."""
    t = read_target()
    other = dataclasses.replace(t, toolchain_prefix=link_folder(tmp_path / "tc", "arm-kq-eabi-"))
    image = tmp_path / "Image"
    image.write_bytes(b"\x55" * 2048)
    dts = tmp_path / "t.dts"
    dts.write_text("/dts-v1/;\n/ { chosen { }; };\n")
    dtb = tmp_path / "t.dtb"
    subprocess.run(["dtc", "-O", "dtb", "-o", dtb, dts], check=True)
    axfs = [
        wrap(target, image, dtb, tmp_path / name, tmp_path / f"{name}.log", cmdline="x")
        for name, target in (("default", t), ("links", other))
    ]
    assert axfs[0].read_bytes() == axfs[1].read_bytes()
    assert "arm-kq-eabi-gcc" in (tmp_path / "links.log").read_text()  # the folder's was used


@pytest.mark.needs("cross", "kernel")
def test_kbuild_takes_a_folder_prefix_and_records_its_compiler(tmp_path, kernel_tree):
    prefix = link_folder(tmp_path / "tc", "arm-kq-eabi-")
    out = tmp_path / "build"
    subprocess.run(
        ["make", "-s", "-C", kernel_tree, f"O={out}", "ARCH=arm", f"CROSS_COMPILE={prefix}"]
        + ["mps2_defconfig"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    config = (out / ".config").read_text()
    version = find_toolchain(prefix, "cortex-m3").version
    assert f'CONFIG_CC_VERSION_TEXT="{version}"' in config
    assert "CONFIG_CPU_V7M=y" in config


@pytest.mark.needs("cross")
def test_a_folder_without_every_tool_names_the_first_missing_one(tmp_path):
    prefix = link_folder(tmp_path / "tc", "arm-kq-eabi-")
    (tmp_path / "tc" / "arm-kq-eabi-objcopy").unlink()
    with pytest.raises(ConfigError, match="arm-kq-eabi-objcopy does not exist") as e:
        target_toolchain(prefix, "cortex-m3", Path("board.yaml"), 4)
    assert str(e.value).startswith("board.yaml:4: 'toolchain_prefix'")


@pytest.mark.needs("cross")
def test_a_compiler_for_another_machine_or_cpu_is_refused(tmp_path):
    if not shutil.which("x86_64-linux-gnu-gcc"):
        pytest.skip("no host x86_64-linux-gnu toolchain")
    host = link_folder(tmp_path / "host", "h-", to="x86_64-linux-gnu-")
    with pytest.raises(ConfigError, match="builds for x86_64-linux-gnu, not 32-bit ARM"):
        target_toolchain(host, "cortex-m3")
    with pytest.raises(ConfigError, match="cannot compile Thumb-2 for -mcpu=cortex-m99"):
        target_toolchain(DEFAULT, "cortex-m99")


@pytest.fixture(scope="module")
def kernel_tree(tmp_path_factory) -> Path:
    """The default target's prepared (extracted, patched) tree."""
    from harness.image.kernel_source import prepare_source

    logs = tmp_path_factory.mktemp("logs")
    return prepare_source(read_target(), logs).tree
