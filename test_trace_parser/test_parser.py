"""The trace parser against counts worked out by hand for each file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import SWI, dump, trace_line
from harness.trace.analysis import analyze
from harness.trace.parser import TraceError, parse_trace
from harness.trace.symbols import Function, SymbolTable

DATA = Path(__file__).parent / "data"
FOO, BAR = 0x21100000, 0x21100100


def syscalls(raw):
    return [r for r in raw.syscall_r7]


def test_happy_path_dump_after(trace_file):
    text = (
        trace_line(FOO)
        + dump(FOO, 1)
        + trace_line(SWI)
        + dump(SWI, 4)
        + trace_line(BAR)
        + dump(BAR, 9)
        + trace_line(SWI)
        + dump(SWI, 3)
    )
    raw = parse_trace(trace_file(text), SWI)
    assert raw.blocks == 4
    assert syscalls(raw) == [4, 3]
    assert raw.pc_hits == {FOO: 1, SWI: 2, BAR: 1}
    assert raw.dump_first is False


def test_orphan_between_two_syscalls_steals_nothing(trace_file):
    # SWI(4), then an SWI block whose dump is missing, then SWI(3).
    text = (
        trace_line(SWI)
        + dump(SWI, 4)
        + trace_line(SWI)
        + trace_line(FOO)
        + dump(FOO, 77)
        + trace_line(SWI)
        + dump(SWI, 3)
    )
    raw = parse_trace(trace_file(text), SWI)
    assert syscalls(raw) == [4, None, 3]
    assert raw.orphans == 1


def test_orphan_non_syscall_block_steals_nothing(trace_file):
    # An orphan FOO block: the SWI dump right after must stay with its SWI Trace.
    text = trace_line(SWI) + dump(SWI, 4) + trace_line(FOO) + trace_line(SWI) + dump(SWI, 6)
    raw = parse_trace(trace_file(text), SWI)
    assert syscalls(raw) == [4, 6]


def test_dump_before_order(trace_file):
    text = (
        dump(FOO, 1)
        + trace_line(FOO)
        + dump(SWI, 4)
        + trace_line(SWI)
        + trace_line(SWI)  # orphan in this order too
        + dump(BAR, 2)
        + trace_line(BAR)
        + dump(SWI, 3)
        + trace_line(SWI)
    )
    raw = parse_trace(trace_file(text), SWI)
    assert raw.dump_first is True
    assert syscalls(raw) == [4, None, 3]
    assert raw.blocks == 5


def test_boundary_511_512_and_private_calls(trace_file):
    text = "".join(trace_line(SWI) + dump(SWI, r7) for r7 in (511, 512, 0xF0005, 0xF0006, 0))
    raw = parse_trace(trace_file(text), SWI)
    syms = SymbolTable([Function("vector_swi", SWI, 0x100)])
    p = analyze(raw, syms, {0: "restart_syscall", 511: "x"})
    assert p.syscalls == {0: 1, 511: 1}
    assert p.invalid_syscalls == {512: 1}
    assert p.private_syscalls == {0xF0005: 1, 0xF0006: 1}


def test_blocks_inside_vector_swi_are_not_syscalls(trace_file):
    inside = SWI + 0x20
    text = (
        trace_line(SWI)
        + dump(SWI, 4)
        + trace_line(inside)
        + dump(inside, 4)
        + trace_line(inside + 8)
        + dump(inside + 8, 4)
    )
    raw = parse_trace(trace_file(text), SWI)
    assert syscalls(raw) == [4]
    syms = SymbolTable([Function("vector_swi", SWI, 0x100)])
    p = analyze(raw, syms, {})
    assert p.syscalls == {4: 1}
    assert p.symbols == {"vector_swi": 3}


def test_sixteen_digit_pc_and_crlf(trace_file):
    text = (
        trace_line(SWI, wide=True, crlf=True)
        + dump(SWI, 5, crlf=True)
        + trace_line(FOO, wide=True, crlf=True)
        + dump(FOO, 1, crlf=True)
    )
    raw = parse_trace(trace_file(text), SWI)
    assert syscalls(raw) == [5]
    assert raw.pc_hits == {SWI: 1, FOO: 1}


def test_truncated_last_record(trace_file):
    full = trace_line(SWI) + dump(SWI, 4) + trace_line(SWI) + dump(SWI, 6)
    cut = full[: full.rindex("R12=") + 10]  # the last dump ends before R15
    with pytest.raises(TraceError, match="truncated: its last line has no newline"):
        parse_trace(trace_file(cut), SWI)
    cut_at_line = full[: full.rindex("R12=")]  # whole lines, but no R12..XPSR
    with pytest.raises(TraceError, match="register dump of its last record is cut short"):
        parse_trace(trace_file(cut_at_line), SWI)
    assert syscalls(parse_trace(trace_file(full), SWI)) == [4, 6]


def test_garbage_linking_and_in_asm_lines_are_ignored(trace_file):
    text = (
        "garbage \x00\x01 line\n"
        "Linking TBs 0x7f00 index 0 -> 0x7f80\n"
        "----------------\nIN: vector_swi\n0x21008140:  f84d 2d04  str r2, [sp, #-4]!\n\n"
        + trace_line(SWI)
        + dump(SWI, 4)
        + "R04=not hex at all R07=zzzz\n"
        + "Trace 0: broken [nope]\n"
        + trace_line(FOO)
        + dump(FOO, 2)
    )
    raw = parse_trace(trace_file(text), SWI)
    assert raw.blocks == 2
    assert syscalls(raw) == [4]


def test_chunk_boundaries_do_not_lose_records(trace_file, monkeypatch):
    import harness.trace.parser as tp

    monkeypatch.setattr(tp, "CHUNK", 97)  # cuts records at many places
    text = "".join(
        trace_line(SWI) + dump(SWI, n) + trace_line(FOO) + dump(FOO, 1) for n in range(40)
    )
    raw = parse_trace(trace_file(text), SWI)
    assert raw.blocks == 80
    assert syscalls(raw) == list(range(40))


def test_real_baseline_excerpt():
    """First 8 records of a real `syscalls` trace of our baseline (QEMU 7.2).

    Expected counts read off the file with grep: R07 values 0xf0005, 0x100,
    0xf0006, 0x14, 0xac, 0x5, 0x58, 0xaf, one each, every dump R15=21008140.
    """
    raw = parse_trace(DATA / "baseline-syscalls-excerpt.trace", SWI)
    p = analyze(
        raw,
        SymbolTable([Function("vector_swi", SWI, 0xC0)]),
        {
            5: "open",
            20: "getpid",
            88: "reboot",
            172: "prctl",
            175: "rt_sigprocmask",
            256: "set_tid_address",
        },
    )
    assert p.blocks == 8 and p.matched == 8 and p.orphans == 0
    assert p.syscalls == {5: 1, 20: 1, 88: 1, 172: 1, 175: 1, 256: 1}
    assert p.private_syscalls == {0xF0005: 1, 0xF0006: 1}
    assert p.syscall_names[256] == "set_tid_address"


def test_missing_file_and_no_records(tmp_path, trace_file):
    with pytest.raises(TraceError, match="does not exist"):
        parse_trace(tmp_path / "absent.trace", SWI)
    with pytest.raises(TraceError, match="no Trace records"):
        parse_trace(trace_file("just text\nnothing else\n"), SWI)


def test_a_folder_or_a_pipe_is_named_for_what_it_is(tmp_path):
    with pytest.raises(TraceError, match="is a folder"):
        parse_trace(tmp_path, SWI)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(TraceError, match="not a regular file"):
        parse_trace(tmp_path / "fifo", SWI)  # and does not hang on the open


@pytest.mark.parametrize("dump_first", [False, True])
def test_not_strict_a_cut_trace_counts_its_whole_records(trace_file, dump_first):
    """The cut record is left out, whichever order QEMU prints a record in."""
    # A block elsewhere between syscalls lets the parser tell the order apart.
    records = [
        (trace_line(pc), dump(pc, nr)) for pc, nr in ((SWI, 4), (FOO, 0), (SWI, 6), (SWI, 9))
    ]
    whole = "".join(d + t if dump_first else t + d for t, d in records)
    cut = whole[:-7]  # inside the last record's last line
    raw = parse_trace(trace_file(cut), SWI, strict=False)
    assert raw.dump_first is dump_first
    assert syscalls(raw) == [4, 6] and raw.blocks == 3
    assert raw.truncated and "incomplete record, were left out" in raw.truncated
    with pytest.raises(TraceError, match="is truncated"):
        parse_trace(trace_file(cut), SWI)  # strict, as a cycle parses
    assert parse_trace(trace_file(whole), SWI, strict=False).truncated is None


def test_records_run_together_are_refused_not_scanned(trace_file):
    record = (trace_line(SWI) + dump(SWI, 3)).replace("\n", " ")
    with pytest.raises(TraceError, match="newlines lost"):
        parse_trace(trace_file(record * 2000 + "\n"), SWI)


def test_parallel_split_gives_the_serial_result(trace_file, monkeypatch):
    import harness.trace.parser as tp

    monkeypatch.setattr(tp, "CHUNK", 300)
    monkeypatch.setattr(tp, "PARALLEL_MIN", 0)
    text = "".join(
        trace_line(FOO + 2 * (n % 7)) + dump(FOO, 1) + trace_line(SWI) + dump(SWI, n)
        for n in range(60)
    )
    path = trace_file(text)
    serial = parse_trace(path, SWI, jobs=1)
    parallel = parse_trace(path, SWI, jobs=2)
    assert parallel.syscall_r7 == serial.syscall_r7 == list(range(60))
    assert list(parallel.pc_hits.items()) == list(serial.pc_hits.items())  # same first-seen order
    assert parallel.blocks == 120


def test_pcs_far_apart_keep_counts_and_first_seen_order(trace_file, monkeypatch):
    """pcs outside the directly indexed span (boot wrapper at 0x8, flash, high
    vectors) count like the others, and first-seen order interleaves them."""
    import harness.trace.parser as tp

    monkeypatch.setattr(tp, "CHUNK", 200)  # new pcs appear in later windows too
    far = [0x8, FOO, 0x0800_0000, SWI, 0xFFFF_FFF0, FOO, 0x8, BAR, 0x0800_0000, 0x8]
    text = "".join(trace_line(pc) + dump(pc, 1) for pc in far)
    raw = parse_trace(trace_file(text), SWI)
    assert list(raw.pc_hits) == [0x8, FOO, 0x0800_0000, SWI, 0xFFFF_FFF0, BAR]
    assert raw.pc_hits == {0x8: 3, FOO: 2, 0x0800_0000: 2, SWI: 1, 0xFFFF_FFF0: 1, BAR: 1}
    assert raw.blocks == len(far)


def test_non_hex_pc_field_is_not_a_block(trace_file):
    good = trace_line(FOO) + dump(FOO, 1)
    bad = trace_line(BAR).replace(f"{BAR:08x}", "2110z100") + dump(BAR, 1)
    raw = parse_trace(trace_file(good + bad + good), SWI)
    assert raw.pc_hits == {FOO: 2}


def _fail_on_purpose():
    raise TraceError("worker failed on purpose")


@pytest.mark.parametrize(
    "in_child, message",
    [(_fail_on_purpose, "worker failed on purpose"), (lambda: os._exit(3), "worker died")],
    ids=["raises", "dies"],
)
def test_a_worker_that_fails_or_dies_is_an_error_here(trace_file, monkeypatch, in_child, message):
    import harness.trace.parser as tp

    monkeypatch.setattr(tp, "CHUNK", 300)
    monkeypatch.setattr(tp, "PARALLEL_MIN", 0)
    path = trace_file("".join(trace_line(FOO) + dump(FOO, 1) for _ in range(50)))
    real_scan = tp._scan
    parent = os.getpid()

    def scan(*args):
        if os.getpid() != parent:
            in_child()
        return real_scan(*args)

    monkeypatch.setattr(tp, "_scan", scan)
    with pytest.raises(TraceError, match=message):
        parse_trace(path, SWI, jobs=2)


def test_a_pc_field_of_another_width_is_read_too(trace_file):
    """8 and 16 digits are QEMU's; any other fixed width takes the general path."""
    text = "".join(
        trace_line(pc).replace(f"/{pc:08x}/", f"/{pc:012x}/") + dump(pc, 1)
        for pc in (FOO, BAR, FOO)
    )
    raw = parse_trace(trace_file(text), SWI)
    assert raw.pc_hits == {FOO: 2, BAR: 1}
