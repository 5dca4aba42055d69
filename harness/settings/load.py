"""Every input of a run, read and checked once, before anything is built.

A bad config file or option must fail at collection, in seconds, with the
file, line and key, not after a kernel build as a failed candidate. pytest
turns the ConfigError raised here into a usage error (exit status 4).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ConfigError
from ..core.paths import resolve
from ..kernel.kconfig import parse_fragment
from ..kernel.source import source_facts, source_mentions
from ..kernel.syscall_table import parse_syscall_table
from .cycles import CycleDef, load_cycles
from .files import CONFIGS, TRACE_SELECTORS
from .initramfs import load_spec
from .keep import load_keep, resolve_names
from .knobs import load_knobs
from .patches import series
from .rootfs import rootfs_entries
from .selectors import (
    Selector,
    check_debug_items,
    check_dfilter_symbols,
    dfilter_names,
    load_selectors,
)
from .target import (
    Target,
    check_kernel_names,
    check_target,
    qemu_debug_items,
    read_target,
)
from .trim_rules import load_rules
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
    trace_yaml: Path = TRACE_SELECTORS  # where the selectors came from


def read_settings(
    target_path: Path,
    workload_path: Path,
    keep_extra: list[str] | None = None,
    boots: int | None = None,
    icount_boots: int = 1,
    configs: Path = CONFIGS,
    cycles_path: Path | None = None,
) -> Settings:
    """Read and cross-check target, cycles, workload, selectors, rules and options.

    No tool runs and nothing is extracted here, so a unit run starts without
    QEMU, the cross compiler or the kernel source. `configs` holds cycles.yaml
    and trace.yaml; `cycles_path` names another cycles file.
    """
    if boots is not None and boots < 1:
        raise ConfigError("--boots", None, f"must be at least 1, not {boots}")
    if icount_boots < 1:
        raise ConfigError("--icount-boots", None, f"must be at least 1, not {icount_boots}")
    target = read_target(target_path)
    spec = load_spec(target.initramfs_spec, nodes_only=target.rootfs is not None)
    if target.rootfs is not None:
        paths = {e.path for e in rootfs_entries(target.rootfs, None)}
        where, fix = target.rootfs, "add /init to it"
    else:
        paths, where, fix = spec.paths, target.initramfs_spec, "add a link '/init: /bin/busybox'"
    if "/init" not in paths and not re.search(r"(^|\s)rdinit=", target.kernel.cmdline):
        raise ConfigError(
            where,
            None,
            f"nothing in it is /init, which the kernel runs from an initramfs: {fix}, "
            "or name another with rdinit= in kernel.cmdline",
        )
    trace_yaml = configs / TRACE_SELECTORS.relative_to(CONFIGS)
    selectors = load_selectors(trace_yaml)
    cycles = load_cycles(
        cycles_path or configs / "cycles.yaml", selectors=selectors, rules=trace_yaml.parent
    )
    workload = load_workload(workload_path)
    for cycle in cycles.values():
        load_rules(resolve(cycle.trim_rules))
    for frag in _fragments(target, cycles):
        parse_fragment(frag)  # syntax here; the symbols once the kernel source is at hand
    parse_fragment(target.busybox_config)  # BusyBox's own symbols: syntax only
    for folder in (target.kernel_patches, target.musl_patches):
        series(folder)
    return Settings(
        target, cycles, workload, selectors, list(keep_extra or []), boots, icount_boots, trace_yaml
    )


def check_settings(settings: Settings, only: Collection[str] | None = None) -> None:
    """What the inputs name that must exist here: the compiler, QEMU and its -d items,
    the kernel source, and in it every syscall and Kconfig symbol the inputs name.

    `only`: the cycles this run can reach (from -k); the kernel-bound inputs of the
    others (a knob a newer kernel brought) are not held against this kernel.
    """
    target = settings.target
    cycles = {n: c for n, c in settings.cycles.items() if only is None or n in only}
    check_target(target)
    check_debug_items(settings.selectors, settings.trace_yaml, qemu_debug_items(target.qemu.binary))
    facts = source_facts(target.kernel_source, target.kernel_patches)
    names = dfilter_names(settings.selectors)
    mentioned = source_mentions(target.kernel_source, target.kernel_patches, names)
    check_dfilter_symbols(settings.selectors, settings.trace_yaml, mentioned)
    check_kernel_names(target, facts.defconfigs, facts.dtbs)
    entries = parse_syscall_table(facts.syscall_table)
    resolve_names(entries, settings.keep_extra, "--keep-syscall")
    for cycle in cycles.values():
        load_keep(resolve(cycle.syscall_keep), entries)
        load_rules(resolve(cycle.trim_rules), facts.symbols)
        if cycle.search is not None:
            load_knobs(resolve(cycle.search.knobs), facts.symbols)
    _check_fragments(target, cycles, facts.symbols)
    _check_derived_options(cycles, facts.symbols)


def _check_derived_options(cycles: dict[str, CycleDef], symbols: frozenset[str]) -> None:
    """An option a derivation sets by name (`options: {set: {...}}`) is a Kconfig
    symbol of this kernel: a typo would make the candidate its parent renamed."""
    for cycle in cycles.values():
        for c in cycle.candidates:
            for d in c.derivations:
                unknown = [s for s in d.kconfig_symbols() if s not in symbols]
                if unknown:
                    raise ConfigError(
                        *c.where,
                        f"cycle '{cycle.name}', candidate '{c.name}': '{d.name}' sets "
                        f"CONFIG_{unknown[0]}, which is not a Kconfig symbol of this kernel "
                        "(a typo?)",
                    )


def _check_fragments(target: Target, cycles: dict[str, CycleDef], symbols: frozenset[str]) -> None:
    """Every kernel fragment line is a Kconfig line for a symbol this kernel has."""
    for frag in _fragments(target, cycles):
        for req in parse_fragment(frag):
            if req.name not in symbols:
                raise ConfigError(
                    frag,
                    req.line,
                    f"CONFIG_{req.name} is not a Kconfig symbol of this kernel (a typo?)",
                )


def _fragments(target: Target, cycles: dict[str, CycleDef]) -> list[Path]:
    """Every kernel fragment the target and the cycles' candidates name, once each."""
    kernel = list(target.fragment_paths)
    for cycle in cycles.values():
        kernel += [resolve(f) for c in cycle.candidates for f in c.fragments]
    return list(dict.fromkeys(kernel))


def cycles_reached(keyword: str, names: Collection[str]) -> set[str]:
    """The cycles a pytest -k expression can select. A word that is part of a cycle's
    name speaks of cycles; any other word (a test's name) may be true or false, so
    a cycle counts when either makes the expression true. A -k pytest cannot read
    reaches every cycle (pytest itself then says what is wrong with it)."""
    from _pytest.mark.expression import Expression  # pytest's own -k grammar

    if not keyword.strip():
        return set(names)
    try:
        expr = Expression.compile(keyword)
    except Exception:  # noqa: BLE001 - pytest reports a bad -k in its own words
        return set(names)

    def reached(name: str) -> bool:
        def matcher(other_words: bool):
            def match(word: str, /, **_: str | int | bool | None) -> bool:
                if any(word in n for n in names):
                    return word in name
                return other_words

            return match

        return any(bool(expr.evaluate(matcher(v))) for v in (True, False))

    return {n for n in names if reached(n)}
