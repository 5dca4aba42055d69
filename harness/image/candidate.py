"""Build one candidate end to end and lay out its artifacts.

source -> userspace -> kernel -> linux.axf -> results/<cycle>/<candidate>/.
Each stage skips itself when its fingerprint is unchanged; the image
fingerprint ties together everything that shapes linux.axf.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from ..core import jsonfile
from ..core.fingerprint import Fingerprint
from ..core.paths import candidate_dir
from ..core.progress import say
from ..core.publish import write_atomic
from ..core.stage import Stage
from ..settings.target import Target
from . import build_folders
from .bootwrap import check_link_address, wrap, zimage_load
from .build_folders import builds_root
from .elfsize import SectionSizes, section_sizes
from .kernel_build import KernelBuild, build_kernel
from .kernel_source import prepare_source
from .userspace import build_userspace, write_initramfs


@dataclass
class CandidateSpec:
    """What makes a candidate differ from the target's own kernel."""

    name: str
    cycle: str = "baseline"
    fragments: list[Path] = field(default_factory=list)
    make_extra: list[str] = field(default_factory=list)
    seed: str | None = None  # build folder name of the candidate it derives from
    build_name: str | None = None  # build folder name; default: its definition_key()
    text_order: str = ""  # linker-script lines placing .text.<fn> sections first
    boot_image: str = ""  # "zImage": boot the self-decompressing image

    @property
    def user(self) -> str:
        return f"{self.cycle}/{self.name}"


@dataclass
class BuiltCandidate:
    spec: CandidateSpec
    axf: Path
    kernel: KernelBuild
    fingerprint: Fingerprint
    results: Path
    sizes: SectionSizes
    axf_bytes: int
    rebuilt: bool
    facts: dict[str, Any] = field(default_factory=dict)  # for the build step's record
    # Guest time before the kernel's entry (a zImage's decompressor, measured by
    # boot/pre_kernel.py); None for an Image, whose wrapper runs the same 8
    # instructions for every candidate.
    pre_kernel_ms: float | None = None


BUILD_TIME = "kqual-build-time.json"  # in the build folder: its last build's seconds


def build_time(folder: Path) -> tuple[float, str] | None:
    """(seconds, how it started) of the folder's last build, when kqual timed one."""
    try:
        data = jsonfile.loads("build-time", (folder / BUILD_TIME).read_text())
    except OSError:
        return None
    if data is None:
        return None
    return float(data["seconds"]), str(data["from"])


def build_folder(target: Target, name: str) -> Path:
    return builds_root(target.name) / name


def definition_key(spec: CandidateSpec) -> str:
    """The build folder name of what the spec builds (see build_folders)."""
    return build_folders.definition_key(
        spec.fragments, spec.make_extra, spec.text_order, spec.boot_image
    )


def build_candidate(target: Target, spec: CandidateSpec) -> BuiltCandidate:
    out = candidate_dir(target.name, spec.cycle, spec.name)
    name = spec.build_name or definition_key(spec)
    folder = build_folder(target, name)
    shared = build_folders.claim(target.name, spec.user, name)
    if shared:
        say(f"{spec.user}: builds in {name}, as {', '.join(shared)} do: one build for all")
    # The log lives with the build, so an up-to-date candidate still has it.
    log = folder / "kqual-build.log"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        source = prepare_source(target, out)
        userspace = build_userspace(target, source, out)
        initramfs = write_initramfs(target, userspace)
        started = time.monotonic()
        try:
            kernel = build_kernel(
                target,
                source,
                folder,
                [*target.fragment_paths, *spec.fragments],
                initramfs.list_path,
                initramfs.fingerprint,
                log,
                spec.name,
                make_extra=spec.make_extra,
                seed=build_folder(target, spec.seed) if spec.seed else None,
                text_order=spec.text_order,
                boot_image=spec.boot_image,
            )
        finally:
            if log.exists():
                _publish(log, out / "image.log")
        # What the build cost (a trial's against a full build), when it ran here;
        # how it started is the build's own word (a wiped folder is a full build).
        timing = {"seconds": round(time.monotonic() - started, 1), "from": kernel.started_from}
        image_fp = Fingerprint().add("kernel", kernel.fingerprint)
        image_fp.add_code("image.bootwrap")
        image_fp.add_text(
            "wrap",
            repr(
                (
                    target.memory,
                    target.uart,
                    target.kernel.cmdline,
                    target.qemu.machine,  # what runs it: traces of it are keyed on this
                    target.qemu.cpu,
                )
            ),
        )
        wrap_dir = folder / "kqual-wrap"
        axf = wrap_dir / "linux.axf"
        wrap_stage = Stage(f"linux.axf {spec.name}", wrap_dir, image_fp, [axf])
        check_link_address(target, kernel.system_map)
        if wrap_stage.begin():
            wrap_kernel(target, kernel, wrap_dir)
            wrap_stage.done()
        rebuilt = kernel.rebuilt
        artifacts = [(kernel.zimage, "zImage")] if kernel.zimage else []
        for src, name in [
            *artifacts,
            (axf, "linux.axf"),
            (kernel.vmlinux, "vmlinux"),
            (kernel.system_map, "System.map"),
            (kernel.config, "kernel.config"),
            (kernel.image, "Image"),
            (wrap_dir / "boot.dtb", "boot.dtb"),
        ]:
            _publish(src, out / name)
    sizes = section_sizes(out / "vmlinux")
    axf_bytes = (out / "linux.axf").stat().st_size
    facts = {
        "candidate": spec.name,
        "cycle": spec.cycle,
        "image_fingerprint": image_fp.digest,
        "kernel_version": source.version,
        "kernel_patches": source.patch_facts,
        "linux_axf_bytes": axf_bytes,
        "image_bytes": (out / "Image").stat().st_size,
        "initramfs_bytes": _initramfs_bytes(kernel.folder),
        "sections": sizes.as_dict(),
        "boot_image": "zImage" if kernel.zimage else "Image",
    }
    if kernel.rebuilt:  # an up-to-date find (another worker's) keeps what the build measured
        write_atomic(folder / BUILD_TIME, jsonfile.dumps("build-time", timing))
        facts |= {"build_seconds": timing["seconds"], "build_from": timing["from"]}
    say(
        f"{spec.cycle}/{spec.name}: linux.axf {axf_bytes:,} bytes "
        f"({'rebuilt' if rebuilt else 'nothing rebuilt'}), artifacts in {out}"
    )
    return BuiltCandidate(
        spec, out / "linux.axf", kernel, image_fp, out, sizes, axf_bytes, rebuilt, facts
    )


def wrap_kernel(
    target: Target, kernel: KernelBuild, wrap_dir: Path, cmdline: str | None = None
) -> Path:
    """linux.axf of the Image, or of the zImage loaded where it can decompress;
    `cmdline` replaces the target's (a boot that prints more, say)."""
    log = wrap_dir / "wrap.log"
    if kernel.zimage is None:
        return wrap(target, kernel.image, kernel.dtb, wrap_dir, log, cmdline=cmdline)
    image_bytes = kernel.image.stat().st_size
    load = zimage_load(target, image_bytes, kernel.zimage.stat().st_size)
    return wrap(target, kernel.zimage, kernel.dtb, wrap_dir, log, cmdline=cmdline, load=load)


def _publish(src: Path, dst: Path) -> None:
    """Copy an artifact so that a reader (another xdist worker) never sees it half-written."""
    s = src.stat()
    if dst.exists():
        d = dst.stat()
        if (d.st_size, d.st_mtime_ns) == (s.st_size, s.st_mtime_ns):
            return
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def _initramfs_bytes(folder: Path) -> int | None:
    """The initramfs as linked into the kernel (compressed, when a compressor is set)."""
    packed = folder / "usr" / "initramfs_inc_data"
    return packed.stat().st_size if packed.exists() else None
