"""Sizes read from ELF files with pyelftools."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile


@dataclass
class SectionSizes:
    """Allocated bytes of vmlinux by kind; init is freed after boot."""

    text: int = 0
    rodata: int = 0
    data: int = 0
    bss: int = 0
    init: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def section_sizes(vmlinux: Path) -> SectionSizes:
    sizes = SectionSizes()
    with open(vmlinux, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            flags = sec["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            size = sec["sh_size"]
            if sec.name.startswith(".init") or sec.name.startswith(".exit"):
                sizes.init += size
            elif sec["sh_type"] == "SHT_NOBITS":
                sizes.bss += size
            elif flags & SH_FLAGS.SHF_EXECINSTR:
                sizes.text += size
            elif flags & SH_FLAGS.SHF_WRITE:
                sizes.data += size
            else:
                sizes.rodata += size
    return sizes
