"""The fault probe: a PIE the nommu loader takes, whose first instruction faults."""

from __future__ import annotations

import io
import re
import struct

from elftools.elf.elffile import ELFFile

from harness.boot.user_fault import PROBE, fault_elf, probe_command


def test_the_probe_is_a_pie_whose_entry_is_an_undefined_thumb_instruction():
    elf = ELFFile(io.BytesIO(fault_elf()))
    assert elf["e_type"] == "ET_DYN" and elf["e_machine"] == "EM_ARM"
    assert elf["e_flags"] & 0xFF000000 == 0x05000000  # EABI5: elf_check_arch takes it
    (load,) = list(elf.iter_segments())
    assert load["p_type"] == "PT_LOAD" and load["p_flags"] == 5  # r-x
    entry = elf["e_entry"]
    assert entry & 1  # Thumb: a Cortex-M runs nothing else
    (insn,) = struct.unpack_from("<H", fault_elf(), entry & ~1)
    assert insn & 0xFF00 == 0xDE00  # UDF #imm8: UsageFault (UNDEFINSTR), so SIGILL
    assert load["p_filesz"] == len(fault_elf()) > entry


def test_the_typed_command_writes_exactly_the_probe():
    command = probe_command()
    octal = re.search(r"printf '([^']*)' > ", command)[1]
    written = bytes(int(o, 8) for o in re.findall(r"\\([0-7]{3})", octal))
    assert written == fault_elf()
    assert f"chmod 755 {PROBE} && {PROBE};" in command and command.endswith(f"rm -f {PROBE}")
