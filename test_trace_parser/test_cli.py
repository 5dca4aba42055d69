"""python -m harness.trace against a real (tiny) ARM ELF built with the cross toolchain."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import dump, trace_line

pytestmark = pytest.mark.needs("cross")

SRC = """
    .syntax unified
    .thumb
    .text
    .global vector_swi, do_work
    .type vector_swi, %function
    .thumb_func
vector_swi:
    .space 0x40
    .size vector_swi, . - vector_swi
    .type do_work, %function
    .thumb_func
do_work:
    .space 0x20
    .size do_work, . - do_work
pad:
    .space 0x40
    .type tail_fn, %function
    .thumb_func
tail_fn:
    .space 0x20
    .size tail_fn, . - tail_fn
"""
PAD = 0x21008060  # inside the image, in no function


@pytest.fixture
def vmlinux(tmp_path):
    s = tmp_path / "k.S"
    s.write_text(SRC)
    out = tmp_path / "vmlinux"
    subprocess.run(
        [
            "arm-none-eabi-gcc",
            "-nostdlib",
            "-mcpu=cortex-m3",
            "-mthumb",
            "-Wl,-Ttext=0x21008000",
            "-Wl,-e,vector_swi",
            s,
            "-o",
            out,
        ],
        check=True,
    )
    return out


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "harness.trace", *map(str, args)], capture_output=True, text=True
    )


def test_json_output(tmp_path, vmlinux):
    swi, work = 0x21008000, 0x21008040
    tbl = tmp_path / "syscall.tbl"
    tbl.write_text("# comment\n3\tcommon\tread\t\tsys_read\n4\tcommon\twrite\t\tsys_write\n")
    trace = tmp_path / "t.trace"
    trace.write_text(
        trace_line(swi)
        + dump(swi, 3)
        + trace_line(work)
        + dump(work, 0)
        + trace_line(swi)
        + dump(swi, 3)
        + trace_line(swi)
        + dump(swi, 0xF0006)
        + trace_line(0x10000)
        + dump(0x10000, 0)
    )
    res = run(
        trace, "--vmlinux", vmlinux, "--syscall-table", tbl, "--json", "--out", tmp_path / "prof"
    )
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["blocks"] == 5 and d["matched"] == 4
    assert d["syscalls"] == {"3": 2}
    assert d["private_syscalls"] == {str(0xF0006): 1}
    assert d["symbols"] == {"vector_swi": 3, "do_work": 1}
    assert d["syscall_names"] == {"3": "read"}
    assert (tmp_path / "prof" / "full.order").read_text() == "vector_swi\ndo_work\n"
    assert "read" in (tmp_path / "prof" / "syscalls.txt").read_text()


def test_missing_trace_and_empty_trace_fail_clearly(tmp_path, vmlinux):
    res = run(tmp_path / "none.trace", "--vmlinux", vmlinux, "--json")
    assert res.returncode != 0 and "does not exist" in res.stderr and res.stdout == ""
    empty = tmp_path / "e.trace"
    empty.write_text("nothing here\n")
    res = run(empty, "--vmlinux", vmlinux, "--json")
    assert res.returncode != 0 and "no Trace records" in res.stderr


def _good_trace(tmp_path):
    swi = 0x21008000
    trace = tmp_path / "t.trace"
    trace.write_text(trace_line(swi) + dump(swi, 3) + trace_line(swi) + dump(swi, 4))
    return trace


@pytest.mark.parametrize(
    "case,message",
    [
        ("vmlinux-not-elf", "is not an ELF file"),
        ("table-missing", "nosuch.tbl: file not found"),
        ("out-is-a-file", "is a file; give a folder"),
        ("cut-mid-record", "is truncated: the register dump of its last record is cut short"),
        ("cut-mid-line", "is truncated: its last line has no newline"),
        ("vmlinux-cut-short", "is cut short"),
        ("trace-is-a-folder", "is a folder: give the file QEMU wrote"),
        ("trace-is-a-pipe", "is not a regular file (a pipe or a device?)"),
        ("another-image", "does not come from this vmlinux"),
    ],
)
def test_bad_inputs_are_errors_not_tracebacks(tmp_path, vmlinux, case, message):
    trace = _good_trace(tmp_path)
    args = [trace, "--vmlinux", vmlinux, "--json"]
    if case == "vmlinux-not-elf":
        bad = tmp_path / "vmlinux.txt"
        bad.write_text("not an elf\n")
        args = [trace, "--vmlinux", bad]
    elif case == "table-missing":
        args += ["--syscall-table", tmp_path / "nosuch.tbl"]
    elif case == "out-is-a-file":
        (tmp_path / "out").write_text("x")
        args += ["--out", tmp_path / "out"]
    elif case == "cut-mid-record":
        text = trace.read_text()
        trace.write_text(text[: text.rindex("R12=")])
        args.append("--strict")
    elif case == "cut-mid-line":
        trace.write_text(trace.read_text()[:-5])
        args.append("--strict")
    elif case == "vmlinux-cut-short":
        cut = tmp_path / "vmlinux.cut"
        cut.write_bytes(vmlinux.read_bytes()[:1000])
        args = [trace, "--vmlinux", cut]
    elif case == "trace-is-a-folder":
        args[0] = tmp_path
    elif case == "trace-is-a-pipe":
        os.mkfifo(tmp_path / "fifo")
        args[0] = tmp_path / "fifo"
    elif case == "another-image":
        # Its blocks start where this vmlinux has padding: another build's code.
        trace.write_text(trace.read_text() + (trace_line(PAD) + dump(PAD, 0)) * 3)
    res = run(*args)
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr


def test_a_cut_trace_is_analysed_to_its_last_whole_record(tmp_path, vmlinux):
    """Not strict: the complete records count, stderr says what was cut, the JSON
    says `truncated`; cut at a line or mid-line alike."""
    whole = _good_trace(tmp_path).read_text()  # vector_swi with r7 3, then with r7 4
    for cut in (whole[: whole.rindex("R12=")], whole[:-5]):
        trace = tmp_path / "cut.trace"
        trace.write_text(cut)
        res = run(trace, "--vmlinux", vmlinux, "--json")
        assert res.returncode == 0, res.stderr
        d = json.loads(res.stdout)
        assert d["syscalls"] == {"3": 1} and d["blocks"] == 1, d
        assert "incomplete record, were left out" in d["truncated"]
        assert "is truncated" in res.stderr and "left out" in res.stderr
    res = run(tmp_path / "t.trace", "--vmlinux", vmlinux, "--json")
    assert json.loads(res.stdout)["truncated"] is None and res.stderr == ""


def test_a_trace_whose_newlines_were_lost_is_refused(tmp_path, vmlinux):
    """Records run together on one line: refused by name, not scanned quadratically."""
    swi = 0x21008000
    record = (trace_line(swi) + dump(swi, 3)).replace("\n", " ")
    trace = tmp_path / "joined.trace"
    trace.write_text(record * (8_000_000 // len(record)) + "\n")
    res = run(trace, "--vmlinux", vmlinux, "--json")
    assert res.returncode == 2 and "Were its newlines lost" in res.stderr, res.stderr


def test_a_trace_of_this_image_with_blocks_outside_the_image_passes(tmp_path, vmlinux):
    """Blocks of user programs lie outside the vmlinux's image: no sign of another image."""
    swi = 0x21008000
    trace = tmp_path / "t.trace"
    trace.write_text(trace_line(swi) + dump(swi, 3) + (trace_line(0x21300000) + dump(0, 0)) * 50)
    res = run(trace, "--vmlinux", vmlinux, "--json")
    assert res.returncode == 0, res.stderr


def test_long_lines_that_mention_the_address_are_not_records(tmp_path, vmlinux):
    """Long lines full of vector_swi's address: none is a Trace line's pc field.
    (Each hit once scanned back to the window start: quadratic on such a trace.)"""
    swi = 0x21008000
    noise = ("IN: " + "21008000/" * 2000 + "\n").encode()
    trace = tmp_path / "long.trace"
    with open(trace, "wb") as f:
        f.write((trace_line(swi) + dump(swi, 3)).encode())
        for _ in range(2_000_000 // len(noise)):
            f.write(noise)
        f.write((trace_line(swi) + dump(swi, 4)).encode())
    res = run(trace, "--vmlinux", vmlinux, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["syscalls"] == {"3": 1, "4": 1}
