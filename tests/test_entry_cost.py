"""Instructions before the kernel's entry, from QEMU's in_asm/exec log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.boot.entry_cost import executed_instructions
from harness.core.errors import KqualError
from harness.image.bootwrap import WRAPPER_S

DATA = Path(__file__).parent / "data"


def _reset_handler_instructions() -> int:
    body = WRAPPER_S.split("reset:\n", 1)[1].split(".ltorg", 1)[0]
    return sum(1 for line in body.splitlines() if line.split("@")[0].strip())


def test_the_wrappers_reset_handler_counts_once_though_icount_rewound_it():
    """Real QEMU 7.2 output (-icount shift=0, -d in_asm,exec,nochain, -dfilter
    0x0..0x1000, a kqual linux.axf): the UART store rewinds the first block, so
    three block runs log 14 instructions, of which the board executed 8."""
    log = (DATA / "wrapper-reset-icount.qemu.log").read_text().splitlines()
    cost = executed_instructions(log)
    assert cost.blocks == 3
    assert cost.instructions == _reset_handler_instructions() == 8
    assert cost.guest_ms == pytest.approx(8e-6)


def _block(start: int, n: int) -> list[str]:
    return ["----------------", "IN: "] + [
        f"0x{start + 2 * i:08x}:  bf00       nop" for i in range(n)
    ]


def _run(pc: int) -> str:
    return f"Trace 0: 0x7f0000000100 [00800400/{pc:08x}/00000110/ff020200] "


def test_a_block_counts_at_every_run_with_its_latest_translation():
    log = [*_block(0x100, 4), _run(0x100), _run(0x100), *_block(0x100, 2), _run(0x100)]
    cost = executed_instructions(log)
    assert (cost.instructions, cost.blocks) == (4 + 4 + 2, 3)


def test_a_rewind_takes_back_what_the_run_did_not_execute():
    log = [*_block(0x100, 5), _run(0x100), "cpu_io_recompile: rewound execution of TB to 00000104"]
    assert executed_instructions(log).instructions == 2


def test_a_run_of_a_block_the_log_never_translated_names_its_line():
    with pytest.raises(KqualError, match=r"line 3: the block at 0x200 ran but was never"):
        executed_instructions([*_block(0x100, 1)[:2], _run(0x200)])


def test_a_rewind_outside_the_block_that_ran_is_an_error():
    log = [*_block(0x100, 2), _run(0x100), "cpu_io_recompile: rewound execution of TB to 00000300"]
    with pytest.raises(KqualError, match=r"line 6: a rewind to 0x300"):
        executed_instructions(log)


def test_a_broken_exec_line_names_its_line():
    with pytest.raises(KqualError, match=re.escape("line 1 of the QEMU log is no exec record")):
        executed_instructions(["Trace 0: garbage"])


def test_counting_stops_at_the_kernels_entry_which_it_does_not_count():
    """The log goes on past the entry (its block is in the filter range, so that
    the count knows where the kernel starts); nothing after the entry counts."""
    entry = 0x21008000
    log = [*_block(0x100, 3), _run(0x100), *_block(entry, 5), _run(entry), _run(0x100)]
    cost = executed_instructions(log, until=entry)
    assert (cost.instructions, cost.blocks, cost.reached) == (3, 1, True)


def test_a_log_that_never_gets_to_the_entry_says_so():
    """A log cut short (QEMU killed before it flushed) would count too little."""
    cost = executed_instructions([*_block(0x100, 3), _run(0x100)], until=0x21008000)
    assert (cost.instructions, cost.reached) == (3, False)
    assert not executed_instructions([*_block(0x100, 3), _run(0x100)]).reached
