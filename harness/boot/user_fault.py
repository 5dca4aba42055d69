"""A program that faults, written into the guest: it alone must die, by its signal.

On ARMv7-M a fault that user space takes meets no MMU; a kernel without our
patch (patches/linux/0003) halts the board in __invalid_entry, so one bad
program stops every later command. A shipped image must not. The probe is
a tiny static PIE, put in /tmp with printf (the image carries no file of
ours), whose first instruction is UDF: a UsageFault, so SIGILL, so status
128 + 4 in the shell, which answers on.
"""

from __future__ import annotations

import re
import struct

from .qemu import QemuSession

SIGILL = 4
PROBE = "/tmp/kqual-fault"
_STATUS = re.compile(r"kqual-fault-status=(\d+)")

# ELF32 little-endian, ARM, EABI5: one PT_LOAD (r-x) holding the header and code.
_EHDR = struct.Struct("<16sHHIIIIIHHHHHH")
_PHDR = struct.Struct("<IIIIIIII")
_CODE = struct.pack("<HH", 0xDE00, 0xE7FE)  # udf #0; b .  (Thumb)
ET_DYN, EM_ARM, PT_LOAD, PF_R_X = 3, 40, 1, 5
EF_ARM_EABI_VER5 = 0x05000000


def fault_elf() -> bytes:
    """A PIE that binfmt_elf_fdpic loads on a nommu kernel and that faults at once."""
    code_at = _EHDR.size + _PHDR.size
    size = code_at + len(_CODE)
    ident = b"\x7fELF\x01\x01\x01" + bytes(9)  # 32-bit, little-endian, version 1
    ehdr = _EHDR.pack(
        ident,
        ET_DYN,
        EM_ARM,
        1,
        code_at | 1,  # Thumb entry
        _EHDR.size,  # program headers follow
        0,
        EF_ARM_EABI_VER5,
        _EHDR.size,
        _PHDR.size,
        1,
        0,
        0,
        0,
    )
    phdr = _PHDR.pack(PT_LOAD, 0, 0, 0, size, size, PF_R_X, 4)
    return ehdr + phdr + _CODE


def probe_command() -> str:
    """Write, run and remove the probe; its status printed on a line of its own."""
    octal = "".join(f"\\{b:03o}" for b in fault_elf())
    return (
        f"printf '{octal}' > {PROBE} && chmod 755 {PROBE} && {PROBE}; "
        f"echo kqual-fault-status=$?; rm -f {PROBE}"
    )


def check_user_fault(session: QemuSession) -> str | None:
    """Why the guest did not survive a user program's fault, or None when only the
    program died, by SIGILL. A halted board raises the console's BootFailure."""
    result = session.run(probe_command(), what="kqual's fault probe")
    m = _STATUS.search(result.output)
    if m is None:
        return f"the fault probe printed no status: {result.output.strip()[-200:]!r}"
    status = int(m[1])
    if status != 128 + SIGILL:
        return (
            f"a program whose first instruction is undefined ended with status {status}, "
            f"not {128 + SIGILL} (killed by SIGILL): {result.output.strip()[-200:]!r}"
        )
    alive = session.run("echo kqual-after-fault")
    if "kqual-after-fault" not in alive.output:
        return "the shell did not answer after a program's fault"
    return None
