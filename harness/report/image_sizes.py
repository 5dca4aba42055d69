"""sizes.json beside a candidate's artifacts: what `kqual compare` and a budget
read of an image, written while its build folder is there.

A later run, or CI on another machine, compares result folders, not build
folders (a search trial's is deleted, CI keeps only artifacts), so the
subsystem rollup and the linked syscall table are taken when the build is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import jsonfile
from ..core.publish import write_atomic
from ..image.elfsize import SectionSizes
from ..kernel.syscall_states import SyscallState, syscall_states
from .subsystems import Subsystems, subsystem_sizes

SIZES_FILE = "sizes.json"


@dataclass
class ImageSizes:
    image_fingerprint: str
    linux_axf_bytes: int
    sections: dict[str, int]
    resident_bytes: int  # text + rodata + data + bss + unwind: what stays after init
    subsystems: Subsystems
    syscalls: dict[str, SyscallState]

    def as_json(self) -> dict[str, Any]:
        return {
            "image_fingerprint": self.image_fingerprint,
            "linux_axf_bytes": self.linux_axf_bytes,
            "sections": self.sections,
            "resident_bytes": self.resident_bytes,
            "subsystems": self.subsystems.as_json(),
            "syscalls": {k: v.value for k, v in self.syscalls.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageSizes:
        """ValueError when a field does not have its type."""
        sections = data.get("sections")
        if not isinstance(sections, dict) or not all(isinstance(v, int) for v in sections.values()):
            raise ValueError("'sections' must map section kinds to byte counts")
        for key in ("linux_axf_bytes", "resident_bytes"):
            if not isinstance(data.get(key), int):
                raise ValueError(f"{key!r} must be a byte count")
        raw = data.get("syscalls")
        if not isinstance(raw, dict):
            raise ValueError("'syscalls' must map names to states")
        return cls(
            str(data.get("image_fingerprint", "")),
            data["linux_axf_bytes"],
            dict(sections),
            data["resident_bytes"],
            Subsystems.from_json(data.get("subsystems") or {}),
            {str(k): SyscallState(v) for k, v in raw.items()},
        )


def read_sizes(folder: Path) -> ImageSizes | None:
    """The folder's sizes.json; None when absent, of another kind or damaged."""
    try:
        data = jsonfile.loads("sizes", (folder / SIZES_FILE).read_text())
    except (OSError, UnicodeDecodeError):
        return None
    if data is None:
        return None
    try:
        return ImageSizes.from_json(data)
    except (ValueError, TypeError):
        return None


def record_sizes(
    out: Path,
    build: Path,
    fingerprint: str,
    sizes: SectionSizes,
    axf_bytes: int,
    prefix: str,
    table: Path,
) -> ImageSizes:
    """Write out/sizes.json for the build in `build`, unless it is there for this image."""
    have = read_sizes(out)
    if have is not None and have.image_fingerprint == fingerprint:
        return have
    got = ImageSizes(
        fingerprint,
        axf_bytes,
        sizes.as_dict(),
        sizes.resident,
        subsystem_sizes(build, build / "vmlinux", prefix),
        syscall_states(build / "vmlinux", build / "System.map", table),
    )
    write_atomic(out / SIZES_FILE, jsonfile.dumps("sizes", got.as_json()))
    return got
