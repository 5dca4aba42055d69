"""The wrapper is assembled with the real cross toolchain from stand-in blobs."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from harness.core.errors import ConfigError, KqualError
from harness.image.bootwrap import MIB, check_link_address, wrap, zimage_load
from harness.settings.target import read_target

DATA = Path(__file__).parent / "data"


@pytest.mark.needs("cross", "dtc")
def test_wrapper_layout(tmp_path):
    import subprocess

    t = read_target()
    image = tmp_path / "Image"
    image.write_bytes(b"\xaa" * 4096)
    dts = tmp_path / "t.dts"
    dts.write_text('/dts-v1/;\n/ { chosen { bootargs = "x"; }; };\n')
    dtb = tmp_path / "t.dtb"
    subprocess.run(["dtc", "-O", "dtb", "-o", dtb, dts], check=True)
    axf = wrap(t, image, dtb, tmp_path / "out", tmp_path / "wrap.log", cmdline="rdinit=/x")
    with open(axf, "rb") as f:
        elf = ELFFile(f)
        secs = {s.name: s for s in elf.iter_sections()}
        assert secs[".vectors"]["sh_addr"] == 0
        sp, reset = struct.unpack("<II", secs[".vectors"].data()[:8])
        assert sp == t.memory.initial_sp
        assert reset & 1 == 1 and reset < t.memory.dtb_address  # Thumb, in .text
        assert secs[".dtb"]["sh_addr"] == t.memory.dtb_address >= 0x1000
        assert secs[".kernel"]["sh_addr"] == t.memory.load_address
        assert secs[".kernel"].data() == image.read_bytes()
        text = secs[".text"].data()
        # Packed: each load segment follows the one before it in the file, and
        # the gaps between vectors, DTB and kernel in memory take no bytes.
        loads = [sg for sg in elf.iter_segments() if sg["p_type"] == "PT_LOAD"]
        assert len(loads) == 3
        end = elf.header["e_phoff"] + elf.header["e_phnum"] * elf.header["e_phentsize"]
        for sg in loads:
            assert end <= sg["p_offset"] < end + 8, "a segment is padded in the file"
            end = sg["p_offset"] + sg["p_filesz"]
        payload = sum(sg["p_filesz"] for sg in loads)
    assert axf.stat().st_size < payload + 1024
    # The literal pool carries the UART CTRL address and the Thumb entry.
    pool = struct.unpack(f"<{len(text) // 4}I", text[: len(text) // 4 * 4])
    assert t.uart.base + t.uart.ctrl_offset in pool
    assert t.memory.load_address | 1 in pool
    out = subprocess.run(
        ["fdtget", tmp_path / "out" / "boot.dtb", "/chosen", "bootargs"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "rdinit=/x"


def test_a_load_address_that_is_not_the_images_link_address_names_the_key(tmp_path):
    """The head of our baseline's real System.map: _text at 0x21008000. A load
    address elsewhere in RAM would lock the boot up without a word."""
    system_map = DATA / "system-map-head-an385.txt"
    t = read_target()
    check_link_address(t, system_map)  # the shipped target is right
    moved = dataclasses.replace(t, memory=dataclasses.replace(t.memory, load_address=0x21010000))
    moved.path, moved.source = t.path, t.source  # not init fields: replace() drops them
    with pytest.raises(ConfigError) as e:
        check_link_address(moved, system_map)
    message = str(e.value)
    assert "an385.yaml:" in message and "'memory.load_address' is 0x21010000" in message
    assert "linked at 0x21008000" in message
    odd = tmp_path / "System.map"
    odd.write_text("00000000 A cpu_v7m_suspend_size\n")
    with pytest.raises(Exception, match="no _text symbol"):
        check_link_address(t, odd)


def test_a_zimage_goes_above_the_image_it_decompresses_to(tmp_path):
    """So its decompressor never moves itself first (head.S: r4 + image size
    <= its own start), and the wrapper jumps to it, not to stext."""
    t = read_target()
    load = t.memory.load_address
    assert zimage_load(t, 1, 700_000) == load + MIB
    assert zimage_load(t, MIB, 700_000) == load + MIB
    assert zimage_load(t, MIB + 1, 700_000) == load + 2 * MIB
    top = t.memory.ram_base + t.memory.ram_size
    with pytest.raises(KqualError, match="does not fit below the end of RAM") as e:
        zimage_load(t, top - load - MIB, MIB)
    assert "an385.yaml" in str(e.value) and "boot the Image instead" in str(e.value)


@pytest.mark.needs("cross", "dtc")
def test_the_wrapper_boots_a_zimage_at_its_own_address(tmp_path):
    import subprocess

    t = read_target()
    zimage = tmp_path / "zImage"
    zimage.write_bytes(b"\x55" * 2048)
    dts = tmp_path / "t.dts"
    dts.write_text("/dts-v1/;\n/ { chosen { }; };\n")
    dtb = tmp_path / "t.dtb"
    subprocess.run(["dtc", "-O", "dtb", "-o", dtb, dts], check=True)
    at = t.memory.load_address + 3 * MIB
    axf = wrap(t, zimage, dtb, tmp_path / "out", tmp_path / "wrap.log", load=at)
    with open(axf, "rb") as f:
        elf = ELFFile(f)
        secs = {s.name: s for s in elf.iter_sections()}
        assert secs[".kernel"]["sh_addr"] == at and secs[".kernel"].data() == zimage.read_bytes()
        text = secs[".text"].data()
    pool = struct.unpack(f"<{len(text) // 4}I", text[: len(text) // 4 * 4])
    assert at | 1 in pool and t.memory.load_address | 1 not in pool
