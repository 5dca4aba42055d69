"""metadata.json beside each candidate's artifacts, as tuxmake writes one per
build: the tools and source it came from, the config's digest, sizes,
durations, and the one command line that rebuilds it.

A size or boot figure in a CI report is only worth as much as knowing what
produced it; this is what a reader needs to build the same image again.
"""

from __future__ import annotations

import hashlib
import shlex
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Any

from ..core import jsonfile
from ..core.publish import write_atomic
from ..image.kernel_build import make_args, reproducible_env
from ..image.kernel_source import KernelSource
from ..settings.target import Target

METADATA_FILE = "metadata.json"


def _kqual_version() -> str:
    try:
        return pkg_metadata.version("kqual")
    except pkg_metadata.PackageNotFoundError:
        return "unknown"


def reproducer(
    target: Target,
    source: KernelSource,
    config: Path,
    folder: str,
    make_extra: list[str],
    goals: list[str],
) -> str:
    """One shell line: the recorded .config into a fresh folder, then kbuild."""
    env = ["env", *(f"{k}={v}" for k, v in reproducible_env(source).items())]
    # ccache only speeds a build up: the line must not need it.
    argv = [
        a for a in make_args(target, source, Path(folder), make_extra) if not a.startswith("CC=")
    ]
    return " && ".join(
        [
            shlex.join(["mkdir", "-p", folder]),
            shlex.join(["cp", str(config), f"{folder}/.config"]),
            shlex.join([*env, *argv, "olddefconfig"]),
            shlex.join([*env, *argv, *goals]),
        ]
    )


def build_metadata(
    target: Target,
    source: KernelSource,
    results: Path,
    facts: dict[str, Any],
    make_extra: list[str],
    text_order: bool,
) -> dict[str, Any]:
    config = results / "kernel.config"
    tc = target.toolchain
    goals = ["Image", *(["zImage"] if facts.get("boot_image") == "zImage" else [])]
    goals.append(target.kernel.dtb)
    out: dict[str, Any] = {
        "kqual": {"version": _kqual_version()},
        "source": {
            "kernelversion": source.version,
            "tree": str(source.tree),
            "patches": facts.get("kernel_patches"),
        },
        "toolchain": {"prefix": target.cross, "gcc": tc.version, "ld": tc.ld_version},
        "target": {"name": target.name, "machine": target.qemu.machine, "cpu": target.qemu.cpu},
        "config": {
            "sha256": hashlib.sha256(config.read_bytes()).hexdigest(),
            "defconfig": target.kernel.defconfig,
        },
        "sizes": {
            "linux_axf_bytes": facts.get("linux_axf_bytes"),
            "image_bytes": facts.get("image_bytes"),
            "initramfs_bytes": facts.get("initramfs_bytes"),
            "kernel_resident_bytes": facts.get("kernel_resident_bytes"),
            "sections": facts.get("sections"),
        },
        "durations": {"build_seconds": facts.get("build_seconds")},
        "boot_image": facts.get("boot_image"),
        "image_fingerprint": facts.get("image_fingerprint"),
        "reproducer": reproducer(target, source, config, "build", make_extra, goals),
    }
    if text_order:
        out["reproducer_needs"] = "the link-order file kqual writes into the build folder"
    return out


def write_metadata(results: Path, data: dict[str, Any]) -> Path:
    return write_atomic(results / METADATA_FILE, jsonfile.dumps("metadata", data))
