"""python -m harness.trace against a real (tiny) ARM ELF built with the cross toolchain."""

from __future__ import annotations

import json
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
"""


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
    elif case == "cut-mid-line":
        trace.write_text(trace.read_text()[:-5])
    res = run(*args)
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr


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
