"""An ARM ELF as the syscall scan reads it: bytes by address, code, symbols, pointers.

pyelftools reads the file; Capstone decodes Thumb-2 (M-profile). Mapping
symbols ($t/$d) and function sizes make an unstripped binary exact; a
stripped one is read from its sections and relocations.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass
from pathlib import Path

import capstone
from capstone import arm
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from ..core.errors import KqualError

R_ARM_RELATIVE = 23


class NotThumbElfError(KqualError):
    """The file is not a 32-bit little-endian ARM ELF."""


def _better_name(new: str, old: str) -> bool:
    """Of aliases, the public and shorter name (open over open64 or __open)."""
    return (new.startswith("_"), len(new), new) < (old.startswith("_"), len(old), old)


@dataclass
class Image:
    """A loaded ARM ELF: bytes by address, code ranges, symbols, pointers."""

    path: Path
    entry: int
    segments: list[tuple[int, bytes]]
    code: list[tuple[int, int]]  # executable [start, end)
    functions: dict[int, tuple[str, int]]  # start -> (name, size)
    mapping: list[tuple[int, str]]  # sorted ($t/$d/$a, address)
    pointers: set[int]  # R_ARM_RELATIVE targets (odd: Thumb code)
    has_symbols: bool

    @classmethod
    def load(cls, path: Path) -> Image:
        if not path.exists():
            raise KqualError(f"{path}: no such file")
        if not path.is_file():  # a FIFO would block the read for ever
            raise NotThumbElfError(f"{path}: not a regular file (a folder, pipe or device)")
        try:
            with open(path, "rb") as f:
                magic = f.read(4)
                f.seek(0)
                elf = ELFFile(f)
                if elf["e_machine"] != "EM_ARM" or elf.elfclass != 32 or not elf.little_endian:
                    raise NotThumbElfError(
                        f"{path}: a {elf.elfclass}-bit {elf['e_machine']} ELF; "
                        "the scanner reads 32-bit little-endian ARM (Thumb-2) binaries"
                    )
                if elf["e_type"] not in ("ET_EXEC", "ET_DYN"):
                    raise NotThumbElfError(
                        f"{path}: an {elf['e_type']} file, not a program: scan the linked binary"
                    )
                image = cls._read(path, elf)
        except (ELFError, ValueError, struct.error) as e:
            what = "an ELF file cut short or damaged" if magic == b"\x7fELF" else "not an ELF file"
            raise NotThumbElfError(f"{path}: {what} ({e})") from None
        if not image.code:
            raise NotThumbElfError(f"{path}: no executable segment: no code a process could run")
        if image.entry & 1 == 0 and not any(kind == "$t" for _, kind in image.mapping):
            raise NotThumbElfError(
                f"{path}: ARM (A32) code (entry {image.entry:#x} is not Thumb): a Cortex-M "
                "runs Thumb only, so this binary cannot run on the target"
            )
        return image

    @classmethod
    def _read(cls, path: Path, elf: ELFFile) -> Image:
        segments, code = [], []
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD":
                continue
            data = seg.data() + b"\0" * (seg["p_memsz"] - seg["p_filesz"])
            segments.append((seg["p_vaddr"], data))
            if seg["p_flags"] & 1:
                code.append((seg["p_vaddr"], seg["p_vaddr"] + seg["p_filesz"]))
        # Sections are exact (.rodata shares the executable segment); a file
        # without section headers falls back to its segments.
        sections = [
            (sec["sh_addr"], sec["sh_addr"] + sec["sh_size"])
            for sec in elf.iter_sections()
            if sec["sh_flags"] & 0x6 == 0x6 and sec["sh_type"] == "SHT_PROGBITS"
        ]
        code = sections or code
        functions: dict[int, tuple[str, int]] = {}
        mapping = []
        symtab = elf.get_section_by_name(".symtab")
        if isinstance(symtab, SymbolTableSection):
            for sym in symtab.iter_symbols():
                name, value = sym.name, sym["st_value"]
                if name in ("$t", "$d", "$a") or name.startswith(("$t.", "$d.", "$a.")):
                    mapping.append((value, name[:2]))
                elif sym["st_info"]["type"] == "STT_FUNC" and value & 1 and sym["st_shndx"]:
                    start = value & ~1
                    if start not in functions or _better_name(name, functions[start][0]):
                        functions[start] = (name, sym["st_size"])
        pointers = set()
        for sec in elf.iter_sections():
            if not isinstance(sec, RelocationSection) or sec.is_RELA():
                continue
            for rel in sec.iter_relocations():
                if rel["r_info_type"] == R_ARM_RELATIVE:
                    pointers.add(rel["r_offset"])
        img = cls(
            path,
            elf.header["e_entry"],
            segments,
            code,
            functions,
            sorted(mapping),
            set(),
            bool(functions),
        )
        img.pointers = {w for w in (img.word(a) for a in pointers) if w is not None}
        return img

    def read(self, addr: int, n: int) -> bytes | None:
        for base, data in self.segments:
            if base <= addr and addr + n <= base + len(data):
                return data[addr - base : addr - base + n]
        return None

    def word(self, addr: int) -> int | None:
        b = self.read(addr, 4)
        return int.from_bytes(b, "little") if b is not None else None

    def is_code(self, addr: int) -> bool:
        if not any(s <= addr < e for s, e in self.code):
            return False
        if not self.mapping:
            return True
        i = bisect.bisect_right(self.mapping, (addr, "\x7f")) - 1
        return i < 0 or self.mapping[i][1] == "$t"

    def code_pointers(self) -> set[int]:
        """Thumb function addresses stored in data (relocated pointers)."""
        return {p & ~1 for p in self.pointers if p & 1 and self.is_code(p & ~1)}

    def thumb_ranges(self) -> list[tuple[int, int]]:
        """[start, end) of code the mapping symbols mark as Thumb; all code without them."""
        if not self.mapping:
            return list(self.code)
        out = []
        for i, (addr, kind) in enumerate(self.mapping):
            end = self.mapping[i + 1][0] if i + 1 < len(self.mapping) else None
            for s, e in self.code:
                if kind == "$t" and s <= addr < e:
                    out.append((addr, min(e, end) if end is not None else e))
        return out

    def name_of(self, addr: int) -> str:
        if addr in self.functions:
            return self.functions[addr][0]
        return f"sub_{addr:x}"


class Decoder:
    """Capstone in Thumb/M-profile mode, one straight run of code at a time.

    Decoding a run in one call keeps Capstone's IT-block state right.
    """

    def __init__(self, image: Image) -> None:
        self.image = image
        self.cs = capstone.Cs(
            capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS
        )
        self.cs.detail = True
        self.cache: dict[int, capstone.CsInsn] = {}

    def at(self, addr: int) -> capstone.CsInsn | None:
        if addr not in self.cache:
            self._run(addr)
        return self.cache.get(addr)

    def it_block(self, addr: int):
        """The first instruction after the IT at addr, decoded with the IT in one run."""
        data = self.image.read(addr, 18) or b""
        insns = list(self.cs.disasm(data, addr, 5))
        for insn in insns:
            self.cache[insn.address] = insn
        return insns[1] if len(insns) > 1 else None

    def _run(self, addr: int) -> None:
        data = self.image.read(addr, 64) or self.image.read(addr, 4) or self.image.read(addr, 2)
        if data is None:
            return
        for insn in self.cs.disasm(data, addr):
            if not self.image.is_code(insn.address):
                break
            self.cache.setdefault(insn.address, insn)
            if insn.id in _ENDS_RUN:
                break


def svc_instructions(image: Image) -> set[int]:
    """Every `svc` a linear sweep of the Thumb code finds: the flow must reach them all."""
    cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    found = set()
    for start, end in image.thumb_ranges():
        data = image.read(start, end - start) or b""
        pos = 0
        while pos < len(data):
            last = pos
            for addr, size, mnemonic, _ in cs.disasm_lite(data[pos:], start + pos):
                if mnemonic == "svc":
                    found.add(addr)
                last = addr - start + size
            pos = max(last, pos) + (2 if last <= pos or last < len(data) else 0)
    return found


_ENDS_RUN = {
    arm.ARM_INS_B,
    arm.ARM_INS_BX,
    arm.ARM_INS_POP,
    arm.ARM_INS_LDM,
    arm.ARM_INS_TBB,
    arm.ARM_INS_TBH,
    arm.ARM_INS_UDF,
}
