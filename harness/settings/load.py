"""Every input of a run, read and checked once, before anything is built.

A bad config file or option must fail at collection, in seconds, with the
file, line and key, not after a kernel build as a failed candidate. pytest
turns the ConfigError raised here into a usage error (exit status 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..build.initramfs import load_spec
from ..build.kconfig import parse_fragment
from ..build.kernel_source import source_facts
from ..build.patches import series
from ..core.errors import ConfigError
from ..core.paths import ROOT, resolve
from ..core.runner import require_tool
from ..derive.config_trim import load_rules
from ..derive.syscall_prune import load_keep, resolve_names
from ..derive.syscall_table import parse_syscall_table
from ..search.knobs import load_knobs
from ..trace.collect import Selector, check_debug_items, load_selectors
from .cycles import CycleDef, load_cycles
from .target import Target, load_target, qemu_debug_items
from .workload import Workload, load_workload


@dataclass
class Settings:
    target: Target
    cycles: dict[str, CycleDef]
    workload: Workload
    selectors: dict[str, Selector]
    keep_extra: list[str] = field(default_factory=list)
    boots: int | None = None
    icount_boots: int = 1


def load_settings(
    target_path: Path,
    workload_path: Path,
    keep_extra: list[str] | None = None,
    boots: int | None = None,
    icount_boots: int = 1,
    configs: Path = ROOT / "configs",
    cycles_path: Path | None = None,
) -> Settings:
    """Read and cross-check target, cycles, workload, selectors, keep lists and options.

    `configs` holds cycles.yaml and trace.yaml; `cycles_path` names another cycles file.
    """
    if boots is not None and boots < 1:
        raise ConfigError("--boots", None, f"must be at least 1, not {boots}")
    if icount_boots < 1:
        raise ConfigError("--icount-boots", None, f"must be at least 1, not {icount_boots}")
    target = load_target(target_path)
    require_tool(target.toolchain_prefix + "gcc")
    load_spec(target.initramfs_spec)
    selectors = load_selectors(configs / "trace.yaml")
    check_debug_items(selectors, configs / "trace.yaml", qemu_debug_items(target.qemu.binary))
    cycles = load_cycles(cycles_path or configs / "cycles.yaml", selectors=selectors)
    workload = load_workload(workload_path)
    extra = list(keep_extra or [])
    facts = source_facts(target)
    entries = parse_syscall_table(facts.syscall_table)
    resolve_names(entries, extra, "--keep-syscall")
    for cycle in cycles.values():
        load_keep(resolve(cycle.syscall_keep), entries)
        load_rules(resolve(cycle.trim_rules))
        if cycle.search is not None:
            load_knobs(resolve(cycle.search.knobs), facts.symbols)
    _check_fragments(target, cycles, facts.symbols)
    for folder in (target.kernel_patches, target.musl_patches):
        series(folder)
    return Settings(target, cycles, workload, selectors, extra, boots, icount_boots)


def _check_fragments(target: Target, cycles: dict[str, CycleDef], symbols: frozenset[str]) -> None:
    """Every kernel fragment line is a Kconfig line for a symbol this kernel has."""
    kernel = list(target.fragment_paths)
    for cycle in cycles.values():
        kernel += [resolve(f) for c in cycle.candidates for f in c.fragments]
    for frag in dict.fromkeys(kernel):
        for req in parse_fragment(frag):
            if req.name not in symbols:
                raise ConfigError(
                    frag,
                    req.line,
                    f"CONFIG_{req.name} is not a Kconfig symbol of this kernel (a typo?)",
                )
    parse_fragment(target.busybox_config)  # BusyBox's own symbols: syntax only
