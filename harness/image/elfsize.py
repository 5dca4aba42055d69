"""Sizes read from ELF files with pyelftools."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile


@dataclass
class SectionSizes:
    """Allocated bytes of vmlinux by kind, classified by section name as `size -A`
    lists them; init is freed after boot; the unwind tables are counted apart."""

    text: int = 0
    rodata: int = 0
    data: int = 0
    bss: int = 0
    init: int = 0
    unwind: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def in_image(self) -> int:
        """What the image carries: everything but .bss, which is only zeroed RAM."""
        return self.text + self.rodata + self.data + self.init + self.unwind

    @property
    def resident(self) -> int:
        """What the kernel keeps of RAM once init is freed: on nommu the image runs
        in place in RAM, so text and the unwind tables stay resident with the data."""
        return self.text + self.rodata + self.data + self.bss + self.unwind


def section_kind(name: str) -> str:
    """The kind of an allocated section, from its name alone (nommu .rodata is writable)."""
    if name.startswith((".init", ".exit")):
        return "init"
    if name.startswith((".ARM.unwind", ".ARM.extab")):
        return "unwind"
    if name.startswith((".text", ".head.text")):
        return "text"
    if name.startswith((".bss", ".sbss")):
        return "bss"
    if name.startswith((".data", ".sdata", ".tdata")):
        return "data"
    return "rodata"  # .rodata, __param, __ksymtab*, __ex_table, .notes, ...


def section_sizes(vmlinux: Path) -> SectionSizes:
    sizes = SectionSizes()
    with open(vmlinux, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            if sec["sh_flags"] & SH_FLAGS.SHF_ALLOC and sec["sh_size"]:
                kind = section_kind(sec.name)
                setattr(sizes, kind, getattr(sizes, kind) + sec["sh_size"])
    return sizes
