"""The target description: which machine, which kernel, where things load.

One YAML file per board in configs/boards/ (an385.yaml by default) says
everything that ties kqual to it. --target NAME (or a path) and KQUAL_TARGET
pick another; builds, results and caches are kept apart by the target's name.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import tarfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.paths import project_dir, resolve
from ..core.runner import require_tool
from .files import BOARDS
from .schema import Located, bind, load_yaml
from .toolchain import Toolchain, cross_prefix, target_toolchain


# No field has a default here: the board files hold every value, and a board
# that `extends` another states only what differs (configs/boards/an386.yaml).
@dataclass
class QemuSpec:
    machine: str
    cpu: str
    binary: str
    args: list[str]


@dataclass
class KernelSpec:
    source: str
    defconfig: str
    fragments: list[str]
    patches: str
    dtb: str
    cmdline: str


@dataclass
class MemorySpec:
    ram_base: int
    ram_size: int = field(metadata={"above": 0})
    load_address: int
    dtb_address: int
    initial_sp: int


@dataclass
class UartSpec:
    base: int
    ctrl_offset: int
    ctrl_value: int


@dataclass
class BootSpec:
    marker: str = field(metadata={"nonempty": True})
    prompt: str = field(metadata={"nonempty": True})
    boot_timeout_s: float = field(metadata={"above": 0})
    step_timeout_s: float = field(metadata={"above": 0})
    boots: int = field(metadata={"min": 1})


@dataclass
class UserspaceSpec:
    busybox_config: str
    initramfs: str
    musl_patches: str
    cflags: list[str]
    # "" builds musl + BusyBox; else the user's root filesystem (a folder or a newc
    # cpio), packed as given with the device nodes `initramfs` declares.
    rootfs: str


@dataclass
class Target:
    name: str = field(metadata={"name": True})  # results/<name>/, work/build/<name>/
    toolchain_prefix: str
    qemu: QemuSpec
    kernel: KernelSpec
    memory: MemorySpec
    uart: UartSpec
    boot: BootSpec
    userspace: UserspaceSpec
    path: Path = field(default=Path(), init=False)
    # The file's YAML nodes, so that a later check names the line it is about.
    source: Any = field(default=None, init=False, repr=False, compare=False)

    # Resolved paths, relative ones taken from the checkout.
    @property
    def kernel_source(self) -> Path:
        """The kernel source: a tarball, or a folder (a git checkout or not)."""
        return resolve(self.kernel.source)

    @property
    def cross(self) -> str:
        """The toolchain prefix as CROSS_COMPILE takes it (a folder made absolute)."""
        return cross_prefix(self.toolchain_prefix)

    @property
    def toolchain(self) -> Toolchain:
        """The compiler of `toolchain_prefix`, found and checked once."""
        return target_toolchain(
            self.toolchain_prefix, self.qemu.cpu, self.path, _line(self.source, "toolchain_prefix")
        )

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
    def rootfs(self) -> Path | None:
        """The user's root filesystem, or None: kqual's own musl + BusyBox."""
        return resolve(self.userspace.rootfs) if self.userspace.rootfs.strip() else None

    @property
    def cpu_cflags(self) -> list[str]:
        """Compiler flags for userspace on this CPU: Thumb-only, soft float."""
        return [f"-mcpu={self.qemu.cpu}", "-mthumb", "-mfloat-abi=soft"]


TARGETS = BOARDS
DEFAULT_TARGET = "an385"
PROJECT_TARGET = Path("configs") / "target.yaml"  # a `kqual init` project's default


class UnknownTarget(ConfigError):
    """A target name or path that names no file; `message` says it without a place."""

    def __init__(self, where: str | Path, line: int | None, message: str) -> None:
        self.message = message
        super().__init__(where, line, message)


def target_path(name_or_path: str, where: str = "--target", base: Path | None = None) -> Path:
    """A target file from a path (relative to `base`, then to the current folder,
    then to the checkout), or from its name in configs/boards/ (an385, an386)."""
    if not name_or_path.strip():
        raise UnknownTarget(where, None, "is empty: name a target (an385) or a target file")
    candidates = [Path(name_or_path).expanduser()]
    if not candidates[0].is_absolute():
        candidates = [(b / name_or_path) for b in (base, Path.cwd()) if b] + [resolve(name_or_path)]
    for path in candidates:
        if path.is_file():
            return path
    for boards in dict.fromkeys((project_dir() / "configs" / "boards", TARGETS)):
        named = boards / f"{name_or_path}.yaml"
        if named.is_file():
            return named
    if "/" in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        tried = ", ".join(dict.fromkeys(str(c) for c in candidates))
        raise UnknownTarget(where, None, f"target file '{name_or_path}' not found (tried {tried})")
    known = ", ".join(p.stem for p in sorted(TARGETS.glob("*.yaml")))
    raise UnknownTarget(where, None, f"no target '{name_or_path}' (known: {known})")


def default_target_path() -> Path:
    """KQUAL_TARGET, else a project's configs/target.yaml, else an385."""
    named = os.environ.get("KQUAL_TARGET")
    if named:
        return target_path(named, "KQUAL_TARGET")
    own = project_dir() / PROJECT_TARGET
    return own if own.is_file() else target_path(DEFAULT_TARGET)


def _board_data(path: Path, chain: list[Path]) -> Any:
    """The file's YAML, over what the board it `extends` says (mappings merge,
    other values replace). Keys it inherits carry no line: they are not in it."""
    data = load_yaml(path)
    if data is None:
        raise ConfigError(path, None, "file is empty")
    if not isinstance(data, dict) or "extends" not in data:
        return data
    parent_name = data.pop("extends")
    line = data.key_lines.pop("extends", None)  # type: ignore[attr-defined]
    if not isinstance(parent_name, str) or not parent_name:
        raise ConfigError(path, line, "'extends' must name a board (an385) or a file")
    try:
        parent = target_path(parent_name, base=path.parent)
    except UnknownTarget as e:
        raise ConfigError(path, line, f"'extends': {e.message}") from None
    if parent.resolve() in [p.resolve() for p in (*chain, path)]:
        raise ConfigError(path, line, f"'extends' {parent_name} extends this file again")
    merged = _merge(_board_data(parent, [*chain, path]), data)
    read_target(parent, _chain=[*chain, path])  # the board it extends is right on its own
    return merged


def _merge(base: Any, over: Any) -> Any:
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    merged = Located({k: v for k, v in base.items()})
    merged.line = getattr(over, "line", 0)
    merged.key_lines = {}
    for key, value in over.items():
        merged[key] = _merge(base[key], value) if key in base else value
        merged.key_lines[key] = over.key_lines.get(key)  # type: ignore[attr-defined]
    return merged


def _line(data: object, dotted: str) -> int | None:
    node = data
    line = getattr(data, "line", None)
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            break
        line = node.key_lines.get(part, line)  # type: ignore[attr-defined]
        node = node[part]
    return line


def key_line(target: Target, dotted: str) -> int | None:
    """The line of `dotted` (e.g. "memory.load_address") in the target's file."""
    return _line(target.source, dotted)


def load_target(path: Path | None = None) -> Target:
    """Read a target file and check it against the installed QEMU and kernel source."""
    target = read_target(path)
    check_target(target)
    return target


def read_target(path: Path | None = None, _chain: list[Path] | None = None) -> Target:
    """Read and validate a target file on its own; every problem names the file and key."""
    path = Path(path) if path else default_target_path()
    data = _board_data(path, _chain or [])
    target = bind(Target, data, path)
    target.path = path.resolve()
    target.source = data

    def must_exist(key: str, p: Path, what: str, file: bool = False) -> None:
        if not p.exists():
            raise ConfigError(path, _line(data, key), f"'{key}': {what} {p} does not exist")
        if file and not p.is_file():
            raise ConfigError(path, _line(data, key), f"'{key}': {what} {p} is not a file")

    for i, frag in enumerate(target.fragment_paths):
        if not frag.is_file():
            line = getattr(data["kernel"]["fragments"], "item_lines", [None] * (i + 1))[i]
            raise ConfigError(path, line, f"'kernel.fragments[{i}]': fragment {frag} not found")
    must_exist("kernel.patches", target.kernel_patches, "kernel patch folder")
    must_exist("userspace.musl_patches", target.musl_patches, "musl patch folder")
    must_exist(
        "userspace.busybox_config", target.busybox_config, "BusyBox config fragment", file=True
    )
    must_exist("userspace.initramfs", target.initramfs_spec, "initramfs description", file=True)
    if target.rootfs is not None:
        _check_rootfs(target.rootfs, path, _line(data, "userspace.rootfs"))
    _check_values(target, path, data)
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
    return target


# Compressed archives the kernel could unpack but kqual cannot read to scan.
_COMPRESSED = {b"\x1f\x8b": "gzip", b"\xfd7zXZ": "xz", b"BZh": "bzip2", b"\x28\xb5\x2f\xfd": "zstd"}


def _check_rootfs(rootfs: Path, path: Path, line: int | None) -> None:
    """A folder, or an uncompressed newc cpio: what kqual can read, scan and repack."""
    if not rootfs.exists():
        raise ConfigError(path, line, f"'userspace.rootfs': {rootfs} does not exist")
    if rootfs.is_dir():
        return
    try:
        with open(rootfs, "rb") as f:
            head = f.read(6)
    except OSError as e:
        msg = f"'userspace.rootfs': cannot read {rootfs}: {e.strerror}"
        raise ConfigError(path, line, msg) from None
    for magic, kind in _COMPRESSED.items():
        if head.startswith(magic):
            raise ConfigError(
                path,
                line,
                f"'userspace.rootfs': {rootfs} is {kind}-compressed; kqual reads every binary "
                f"in it for the syscall scan: name the uncompressed cpio (or its folder)",
            )
    if head not in (b"070701", b"070702"):
        raise ConfigError(
            path,
            line,
            f"'userspace.rootfs': {rootfs} is neither a folder nor a newc cpio archive "
            "(make one with: find . | cpio -o -H newc > rootfs.cpio)",
        )


def _check_values(target: Target, path: Path, data: Any) -> None:
    """What the types allow but the board cannot be: addresses past 32 bits, a UART
    value the wrapper's `movs` cannot load, a DTB inside the kernel's RAM, a list
    item that holds two arguments."""
    mem = target.memory
    for key, value, top in (
        ("memory.initial_sp", mem.initial_sp, 1 << 32),  # the stack grows down from it
        ("memory.dtb_address", mem.dtb_address, (1 << 32) - 1),
        ("memory.ram_base", mem.ram_base, (1 << 32) - 1),
        ("memory.ram_base + memory.ram_size", mem.ram_base + mem.ram_size, 1 << 32),
        ("uart.base", target.uart.base, (1 << 32) - 1),
    ):
        if not 0 <= value <= top:
            raise ConfigError(
                path, _line(data, key.split(" ")[0]), f"'{key}' {value:#x} is not a 32-bit address"
            )
    if not 0 <= target.uart.ctrl_value <= 0xFF:
        raise ConfigError(
            path,
            _line(data, "uart.ctrl_value"),
            f"'uart.ctrl_value' {target.uart.ctrl_value:#x} does not fit the byte the boot "
            "wrapper writes (0..0xff)",
        )
    if mem.load_address <= mem.dtb_address < mem.ram_base + mem.ram_size:
        raise ConfigError(
            path,
            _line(data, "memory.dtb_address"),
            f"'memory.dtb_address' {mem.dtb_address:#x} lies in the RAM the kernel is loaded "
            f"into (from {mem.load_address:#x}): the Image would overwrite it; keep it below",
        )
    for key, items in (
        ("qemu.args", target.qemu.args),
        ("userspace.cflags", target.userspace.cflags),
    ):
        for item in items:
            if item.startswith("-") and " -" in item:
                raise ConfigError(
                    path,
                    _line(data, key),
                    f"'{key}' item {item!r} holds two arguments: write each as its own item",
                )
    if not target.toolchain_prefix.endswith("-"):
        raise ConfigError(
            path,
            _line(data, "toolchain_prefix"),
            f"'toolchain_prefix' {target.toolchain_prefix!r} lacks its trailing '-' "
            f"(the compiler is <prefix>gcc: {target.toolchain_prefix}-gcc)",
        )


def check_target(target: Target) -> None:
    """What a target file names that must be installed: the toolchain, the kernel
    source, and the QEMU that knows its machine and CPU."""
    path, data = target.path, target.source
    source = target.kernel_source
    where = _line(data, "kernel.source")
    if not source.exists():
        raise ConfigError(
            path, where, f"'kernel.source': kernel source tarball {source} does not exist"
        )
    if source.is_dir():
        missing = [
            f for f in ("Makefile", "arch/arm/tools/syscall.tbl") if not (source / f).is_file()
        ]
        if missing:
            raise ConfigError(
                path,
                where,
                f"'kernel.source': the folder {source} is no Linux source tree (no "
                f"{missing[0]}); give the top of a kernel tree, or its tarball",
            )
        built = [f for f in (".config", "include/config") if (source / f).exists()]
        if built:
            raise ConfigError(
                path,
                where,
                f"'kernel.source': {source} was configured in place ({built[0]}), and "
                "kqual builds out of tree (O=), which make refuses then: run "
                "'make mrproper' in it, or give a clean copy",
            )
        require_tool("rsync")  # the copy our patches apply to
    elif not _is_tarball(source):
        raise ConfigError(
            path,
            where,
            f"'kernel.source': {source} is not a tar archive (such as "
            "/usr/src/linux-source-6.12.tar.xz)",
        )
    _check_qemu(target)  # before the compiler: QEMU's message names near CPUs
    target_toolchain(
        target.toolchain_prefix, target.qemu.cpu, path, _line(data, "toolchain_prefix")
    )


def _check_qemu(target: Target) -> None:
    path, data = target.path, target.source
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


def check_kernel_names(target: Target, defconfigs: frozenset[str], dtbs: frozenset[str]) -> None:
    """`kernel.defconfig` and `kernel.dtb` name what this kernel tree has: found
    here, not after the first build's olddefconfig or dtbs step."""
    for key, value, known, where in (
        ("kernel.defconfig", target.kernel.defconfig, defconfigs, "arch/arm/configs/"),
        ("kernel.dtb", target.kernel.dtb, dtbs, "the Makefiles of arch/arm/boot/dts/"),
    ):
        if value not in known:
            base = value.rsplit("/", 1)[-1]
            same = [k for k in known if k.rsplit("/", 1)[-1] == base]
            near = ", ".join(dict.fromkeys(same + difflib.get_close_matches(value, known, 5)))
            raise ConfigError(
                target.path,
                _line(target.source, key),
                f"'{key}' {value!r} is not in this kernel tree ({where})"
                + (f"; similar: {near}" if near else ""),
            )


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


@cache
def _is_tarball(path: Path) -> bool:
    """Reads the first member's header only (for .tar.xz, a little decompression)."""
    try:
        return tarfile.is_tarfile(path)
    except (OSError, EOFError, tarfile.TarError, ValueError):
        return False
