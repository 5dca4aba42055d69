"""Out-of-tree kernel builds: config from defconfig + fragments, then make.

One O= folder per candidate. The config is regenerated from scratch whenever
the stage's inputs change (merge_config.sh, then olddefconfig) and checked
against every fragment line; kbuild then rebuilds only what the new config or
sources touch. A change of source tree or toolchain wipes the folder instead,
because kbuild cannot see those.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from filelock import FileLock

from ..core.fingerprint import Fingerprint
from ..core.jobs import build_jobs
from ..core.runner import run_logged
from ..core.stage import Stage
from ..kernel.kconfig import (
    ConfigNotAppliedError,
    check_applied,
    effective_requests,
    known_symbols,
    parse_config,
)
from ..kernel.source import ARCH
from ..settings.target import Target
from .kernel_source import KernelSource

# Inputs whose change kbuild cannot track: a change wipes the build folder.
_WIPE_PARTS = ("source", "tool:gcc", "tool:ld")


@dataclass(frozen=True)
class KernelBuild:
    folder: Path
    image: Path
    vmlinux: Path
    system_map: Path
    config: Path
    dtb: Path
    fingerprint: Fingerprint
    rebuilt: bool
    # How the build started: "scratch" (an empty folder: a full build), "seed"
    # (a copy of another candidate's folder) or "incremental"; "" when up to date.
    started_from: str = ""
    zimage: Path | None = None  # the self-decompressing image, when it was asked for

    @property
    def boot_image(self) -> Path:
        """What the wrapper boots: the zImage when there is one, else the Image."""
        return self.zimage or self.image


def make_args(
    target: Target, source: KernelSource, folder: Path, extra: Sequence[str] = ()
) -> list[str]:
    cc = target.cross + "gcc"
    args = [
        "make",
        "-C",
        str(source.tree),
        f"O={folder}",
        f"ARCH={ARCH}",
        f"CROSS_COMPILE={target.cross}",
        f"-j{build_jobs()}",
    ]
    if shutil.which("ccache"):
        args.append(f"CC=ccache {cc}")
    return args + list(extra)


def reproducible_env(source: KernelSource) -> dict[str, str]:
    """Same inputs, same Image: no build date, user or host of this machine inside."""
    return {
        "KBUILD_BUILD_TIMESTAMP": f"@{source.timestamp}",
        "KBUILD_BUILD_USER": "kqual",
        "KBUILD_BUILD_HOST": "kqual",
        "KBUILD_BUILD_VERSION": "1",
    }


def kernel_fingerprint(
    target: Target,
    source: KernelSource,
    fragments: list[Path],
    initramfs: Fingerprint,
    make_extra: list[str],
    text_order: str = "",
    boot_image: str = "",
) -> Fingerprint:
    fp = Fingerprint()
    fp.add("source", source.fingerprint)
    fp.add_text("defconfig", target.kernel.defconfig)
    for i, frag in enumerate(fragments):
        fp.add_file(f"fragment{i}:{frag.name}", frag)
    fp.add("initramfs", initramfs)
    fp.add_text("make-extra", " ".join(make_extra))
    if text_order:  # only ordered builds carry it: the others keep their keys
        fp.add_text("text-order", text_order)
    if boot_image:  # likewise, only zImage builds
        fp.add_text("boot-image", boot_image)
    fp.add("toolchain", target.toolchain.fingerprint)
    fp.add_code("image.kernel_build", follow=("image", "kernel"))
    return fp


BOOT_IMAGES = ("", "zImage")  # "": the Image alone
# The Kconfig choice of the zImage's compressor does nothing to the Image: a
# candidate whose fragments make that choice asks for the zImage, and boots it.
_COMPRESSOR = re.compile(r"^CONFIG_KERNEL_(GZIP|LZ4|LZO|XZ|LZMA)=y\s*$", re.M)


def boot_image_for(fragments: Sequence[Path]) -> str:
    """ "zImage" when a fragment chooses the kernel's compressor, else ""."""
    return "zImage" if any(_COMPRESSOR.search(f.read_text()) for f in fragments) else ""


TEXT_ORDER = "kqual-text-order.lds"  # included by TEXT_TEXT (patches/linux/0002-...)


def _write_text_order(folder: Path, text_order: str) -> None:
    """The linker-script list of .text.<fn> sections placed first, in every build
    (empty when there is none). kbuild does not know the linker script includes
    it, so a new list removes vmlinux: the link runs again and nothing recompiles."""
    path = folder / TEXT_ORDER
    text = text_order or "/* kqual: no text order for this build */\n"
    if path.exists() and path.read_text() == text:
        return
    path.write_text(text)
    (folder / "vmlinux").unlink(missing_ok=True)


def build_kernel(
    target: Target,
    source: KernelSource,
    folder: Path,
    fragments: list[Path],
    initramfs_list: Path,
    initramfs_fp: Fingerprint,
    log: Path,
    label: str,
    make_extra: list[str] | None = None,
    seed: Path | None = None,
    text_order: str = "",
    boot_image: str = "",
) -> KernelBuild:
    """Build Image, vmlinux and the DTB in `folder`; skip when up to date.

    `seed`, when given and `folder` has never been built, is a finished build
    folder copied first, so a derived candidate rebuilds incrementally.
    `boot_image` "zImage" builds the self-decompressing image as well.
    """
    if boot_image not in BOOT_IMAGES:
        raise ValueError(f"boot image {boot_image!r} is none of {BOOT_IMAGES}")
    make_extra = list(make_extra or [])
    fp = kernel_fingerprint(
        target, source, fragments, initramfs_fp, make_extra, text_order, boot_image
    )
    dtb = folder / "arch" / ARCH / "boot" / "dts" / target.kernel.dtb
    image = folder / "arch" / ARCH / "boot" / "Image"
    result = KernelBuild(
        folder,
        image,
        folder / "vmlinux",
        folder / "System.map",
        folder / ".config",
        dtb,
        fp,
        rebuilt=False,
        zimage=image.with_name("zImage") if boot_image else None,
    )
    outputs = [image, result.vmlinux, dtb, *([result.zimage] if result.zimage else [])]
    stage = Stage(f"kernel {label}", folder, fp, outputs)
    if not stage.begin():
        return result
    if any(p in stage.changed_parts() for p in _WIPE_PARTS) and stage.previous():
        shutil.rmtree(folder)
    started_from = "incremental" if (folder / ".config").exists() else "scratch"
    if seed is not None and started_from == "scratch":
        shutil.rmtree(folder, ignore_errors=True)
        with FileLock(str(seed) + ".lock"):  # another worker may be building the parent
            shutil.copytree(seed, folder, symlinks=True)
        (folder / ".kqual-stamp.json").unlink(missing_ok=True)
        started_from = "seed"
    folder.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)

    _write_text_order(folder, text_order)
    generated = folder / "kqual-initramfs.config"
    generated.write_text(f'CONFIG_INITRAMFS_SOURCE="{initramfs_list}"\n')
    all_fragments = [*fragments, generated]
    defconfig = source.tree / "arch" / ARCH / "configs" / target.kernel.defconfig
    run_logged(
        [
            source.tree / "scripts" / "kconfig" / "merge_config.sh",
            "-m",
            "-O",
            folder,
            defconfig,
            *all_fragments,
        ],
        log,
        f"kernel {label}: merge config",
        append=True,
        cwd=folder,
    )
    run_logged(
        [*make_args(target, source, folder, make_extra), "olddefconfig"],
        log,
        f"kernel {label}: olddefconfig",
        append=True,
        env=reproducible_env(source),
    )
    requests = effective_requests(all_fragments)
    mismatches = check_applied(requests, parse_config(folder / ".config"))
    if mismatches:
        # Only on failure: scanning every Kconfig file tells a typo from a dependency.
        symbols = known_symbols(source.tree)
        mismatches = [replace(m, unknown_symbol=m.request.name not in symbols) for m in mismatches]
        raise ConfigNotAppliedError(mismatches, folder / ".config")
    run_logged(
        [
            *make_args(target, source, folder, make_extra),
            "Image",
            *([boot_image] if boot_image else []),
            target.kernel.dtb,
        ],
        log,
        f"kernel {label}: build",
        append=True,
        env=reproducible_env(source),
    )
    stage.done()
    return replace(result, rebuilt=True, started_from=started_from)
