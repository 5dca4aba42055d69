"""The target description: which machine, which kernel, where things load.

One YAML file per board in configs/targets/ (an385.yaml by default) says
everything that ties kqual to it. --target NAME (or a path) and KQUAL_TARGET
pick another; builds, results and caches are kept apart by the target's name.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..core.errors import ConfigError
from ..core.paths import ROOT, resolve
from ..core.runner import require_tool
from .schema import bind, load_yaml


@dataclass
class QemuSpec:
    machine: str = "mps2-an385"
    cpu: str = "cortex-m3"
    binary: str = "qemu-system-arm"
    args: list[str] = field(default_factory=lambda: ["-nographic", "-no-reboot"])


@dataclass
class KernelSpec:
    source: str = "/usr/src/linux-source-6.12.tar.xz"
    arch: str = "arm"
    defconfig: str = "mps2_defconfig"
    fragments: list[str] = field(default_factory=list)
    patches: str = "patches/linux"
    dtb: str = "arm/mps2-an385.dtb"
    cmdline: str = "earlycon"


@dataclass
class MemorySpec:
    ram_base: int = 0x21000000
    ram_size: int = 0x01000000
    load_address: int = 0x21008000
    dtb_address: int = 0x1000
    initial_sp: int = 0x00400000


@dataclass
class UartSpec:
    base: int = 0x40004000
    ctrl_offset: int = 0x08
    ctrl_value: int = 0x3


@dataclass
class BootSpec:
    marker: str = field(default="Linux for Cortex-M", metadata={"nonempty": True})
    prompt: str = field(default="/ # ", metadata={"nonempty": True})
    boot_timeout_s: float = field(default=60.0, metadata={"above": 0})
    step_timeout_s: float = field(default=15.0, metadata={"above": 0})
    boots: int = field(default=3, metadata={"min": 1})


@dataclass
class UserspaceSpec:
    busybox_config: str = "configs/busybox.config"
    initramfs: str = "configs/initramfs.yaml"
    musl_patches: str = "patches/musl"
    cflags: list[str] = field(default_factory=lambda: ["-Os"])


@dataclass
class Target:
    name: str
    toolchain_prefix: str = "arm-none-eabi-"
    qemu: QemuSpec = field(default_factory=QemuSpec)
    kernel: KernelSpec = field(default_factory=KernelSpec)
    memory: MemorySpec = field(default_factory=MemorySpec)
    uart: UartSpec = field(default_factory=UartSpec)
    boot: BootSpec = field(default_factory=BootSpec)
    userspace: UserspaceSpec = field(default_factory=UserspaceSpec)
    path: Path = field(default=Path(), init=False)

    # Resolved paths, relative ones taken from the checkout.
    @property
    def source_tarball(self) -> Path:
        return resolve(self.kernel.source)

    @property
    def fragment_paths(self) -> list[Path]:
        return [resolve(f) for f in self.kernel.fragments]

    @property
    def kernel_patches(self) -> Path:
        return resolve(self.kernel.patches)

    @property
    def musl_patches(self) -> Path:
        return resolve(self.userspace.musl_patches)

    @property
    def busybox_config(self) -> Path:
        return resolve(self.userspace.busybox_config)

    @property
    def initramfs_spec(self) -> Path:
        return resolve(self.userspace.initramfs)

    @property
    def cpu_cflags(self) -> list[str]:
        """Compiler flags for userspace on this CPU: Thumb-only, soft float."""
        return [f"-mcpu={self.qemu.cpu}", "-mthumb", "-mfloat-abi=soft"]


TARGETS = ROOT / "configs" / "targets"
DEFAULT_TARGET = "an385"


def target_path(name_or_path: str) -> Path:
    """A target file from a path, or from its name in configs/targets/ (an385, an386)."""
    path = resolve(name_or_path)
    if path.is_file() or "/" in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        return path
    named = TARGETS / f"{name_or_path}.yaml"
    if named.is_file():
        return named
    known = ", ".join(p.stem for p in sorted(TARGETS.glob("*.yaml")))
    raise ConfigError("--target", None, f"no target '{name_or_path}' (known: {known})")


def default_target_path() -> Path:
    return target_path(os.environ.get("KQUAL_TARGET", DEFAULT_TARGET))


def _line(data: object, dotted: str) -> int | None:
    node = data
    line = getattr(data, "line", None)
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            break
        line = node.key_lines.get(part, line)  # type: ignore[attr-defined]
        node = node[part]
    return line


def load_target(path: Path | None = None) -> Target:
    """Read and validate a target file; every problem names the file and key."""
    path = Path(path) if path else default_target_path()
    data = load_yaml(path)
    if data is None:
        raise ConfigError(path, None, "file is empty")
    target = bind(Target, data, path)
    target.path = path.resolve()

    def must_exist(key: str, p: Path, what: str) -> None:
        if not p.exists():
            raise ConfigError(path, _line(data, key), f"'{key}': {what} {p} does not exist")

    must_exist("kernel.source", target.source_tarball, "kernel source tarball")
    for i, frag in enumerate(target.fragment_paths):
        if not frag.is_file():
            line = getattr(data["kernel"]["fragments"], "item_lines", [None] * (i + 1))[i]
            raise ConfigError(path, line, f"'kernel.fragments[{i}]': fragment {frag} not found")
    must_exist("userspace.busybox_config", target.busybox_config, "BusyBox config fragment")
    must_exist("userspace.initramfs", target.initramfs_spec, "initramfs description")
    mem = target.memory
    if mem.dtb_address < 0x1000:
        raise ConfigError(
            path,
            _line(data, "memory.dtb_address"),
            f"'memory.dtb_address' is {mem.dtb_address:#x}; the kernel rejects a DTB "
            "pointer below 0x1000, so place it at 0x1000 or above",
        )
    if not (mem.ram_base <= mem.load_address < mem.ram_base + mem.ram_size):
        raise ConfigError(
            path,
            _line(data, "memory.load_address"),
            f"'memory.load_address' {mem.load_address:#x} is outside RAM "
            f"{mem.ram_base:#x}+{mem.ram_size:#x}",
        )
    machines, cpus = qemu_choices(target.qemu.binary)
    for key, value, known in (
        ("qemu.machine", target.qemu.machine, machines),
        ("qemu.cpu", target.qemu.cpu, cpus),
    ):
        if value not in known:
            near = ", ".join(sorted(k for k in known if k.startswith(value.split("-")[0]))[:8])
            raise ConfigError(
                path,
                _line(data, key),
                f"'{key}' {value!r} is not known to {target.qemu.binary}"
                + (f" (similar: {near})" if near else ""),
            )
    return target


@cache
def qemu_help(binary: str, option: str) -> frozenset[str]:
    """The names `binary <option> help` lists (machines, CPUs, -d items), asked once."""
    require_tool(binary)
    out = subprocess.run([binary, option, "help"], capture_output=True, text=True, timeout=30)
    return frozenset(line.split()[0] for line in out.stdout.splitlines()[1:] if line.strip())


def qemu_choices(binary: str) -> tuple[frozenset[str], frozenset[str]]:
    """Machine and CPU names the installed QEMU knows."""
    return qemu_help(binary, "-machine"), qemu_help(binary, "-cpu")


def qemu_debug_items(binary: str) -> frozenset[str]:
    """The -d log items the installed QEMU knows."""
    return qemu_help(binary, "-d")
