"""What the syscall scanner refuses, by name: files a Cortex-M process could not be."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from harness.scan.syscalls import main

SRC = """
    .syntax unified
    .global _start
_start:
    movs r7, #1
    svc 0
    movs r7, #4
    svc 0
"""


def _refused(capsys, path, message: str) -> None:
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err, err


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _refused(capsys, fifo, "not a regular file")
    _refused(capsys, tmp_path, "not a regular file")


@pytest.mark.needs("cross")
@pytest.mark.parametrize(
    "flags,cut,message",
    [
        (["-marm", "-nostdlib"], False, "ARM (A32) code (entry 0x"),
        (["-mthumb", "-mcpu=cortex-m3", "-c"], False, "an ET_REL file, not a program"),
        (["-mthumb", "-mcpu=cortex-m3", "-nostdlib"], True, "an ELF file cut short or damaged"),
    ],
    ids=["a32", "relocatable", "truncated"],
)
def test_elf_files_no_cortex_m_process_could_be(tmp_path, capsys, flags, cut, message):
    src = tmp_path / "t.S"
    src.write_text(SRC)
    out = tmp_path / "t.elf"
    subprocess.run(["arm-none-eabi-gcc", *flags, "-o", out, src], check=True)
    if cut:
        data = out.read_bytes()
        out.write_bytes(data[: len(data) // 3])
    _refused(capsys, out, message)


@pytest.mark.needs("cross")
def test_the_thumb_build_of_the_same_source_scans(tmp_path, capsys):
    src = tmp_path / "t.S"
    src.write_text(SRC.replace(".syntax unified", ".syntax unified\n    .thumb\n    .thumb_func"))
    out = tmp_path / "t.elf"
    subprocess.run(
        ["arm-none-eabi-gcc", "-mthumb", "-mcpu=cortex-m3", "-nostdlib", "-o", out, src], check=True
    )
    assert main([str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["complete"] and [s["number"] for s in data["syscalls"]] == [1, 4]


@pytest.mark.needs("cross")
def test_in_an_initramfs_a_binary_the_scanner_cannot_read_blocks_pruning_by_name(tmp_path):
    """A user's root filesystem may hold an ELF of another architecture, or one cut
    short: the scan goes on, is incomplete, and the safe prune names the binary."""
    from harness.derive.prune import incomplete_scan
    from harness.scan.syscalls import UNREADABLE, scan

    src = tmp_path / "t.S"
    src.write_text(SRC.replace(".syntax unified", ".syntax unified\n    .thumb\n    .thumb_func"))
    arm_src = tmp_path / "a.S"
    arm_src.write_text(SRC)
    good, a32, cut = tmp_path / "good", tmp_path / "a32", tmp_path / "cut"
    thumb = ["-mthumb", "-mcpu=cortex-m3", "-nostdlib"]
    subprocess.run(["arm-none-eabi-gcc", *thumb, "-o", good, src], check=True)
    subprocess.run(["arm-none-eabi-gcc", "-marm", "-nostdlib", "-o", a32, arm_src], check=True)
    cut.write_bytes(good.read_bytes()[:200])
    labels = ["/bin/good", "/usr/bin/a32", "/usr/bin/cut"]
    with pytest.raises(Exception, match="ARM \\(A32\\) code"):
        scan([good, a32, cut], labels)  # `kqual syscalls` on a file: refused
    result = scan([good, a32, cut], labels, unreadable_blocks=True)
    assert not result.complete and result.numbers == {1, 4}  # the good one still counts
    unread = {u.binary: u.why for u in result.unresolved if u.function == UNREADABLE}
    assert set(unread) == {"/usr/bin/a32", "/usr/bin/cut"}
    assert "ARM (A32) code" in unread["/usr/bin/a32"]
    assert "cut short or damaged" in unread["/usr/bin/cut"]
    assert [b.path for b in result.binaries] == labels
    message = incomplete_scan(result)
    assert "/usr/bin/a32 not scanned:" in message and "/usr/bin/cut not scanned:" in message
    assert "pruning could remove a call it needs" in message
