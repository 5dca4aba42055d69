"""The workload profile of a built candidate: traced once, then from the cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .candidate import BuiltCandidate
from .kernel_source import prepare_source
from .profile_cache import CacheEntry, CacheKey, ProfileCache, analysis_code_digest
from .symbols import SymbolTable
from .syscall_table import syscall_names
from .target import Target
from .trace import SWI_SYMBOL
from .trace_analysis import analyze, write_outputs
from .trace_collect import Selector, collect_trace
from .trace_parser import parse_trace
from .workload import Workload


def profile_key(
    built: BuiltCandidate, workload: Workload, name: str, selector: Selector
) -> CacheKey:
    return CacheKey(
        image_fingerprint=built.fingerprint.digest,
        workload_sha256=workload.sha256,
        selector=name,
        selector_spec=json.dumps(selector.__dict__, sort_keys=True),
        analysis_code=analysis_code_digest(),
    )


def get_profile(
    target: Target,
    built: BuiltCandidate,
    workload: Workload,
    name: str,
    selector: Selector,
    cache: ProfileCache,
    scratch: Path,
) -> CacheEntry:
    """The cached profile of `built` under `selector`; traces only on a miss."""
    table = prepare_source(target, built.results).tree / "arch/arm/tools/syscall.tbl"

    def fill(folder: Path) -> None:
        run = collect_trace(
            target,
            built.axf,
            built.results / "vmlinux",
            built.fingerprint.digest,
            workload,
            name,
            selector,
            scratch,
        )
        try:
            symtab = SymbolTable.from_vmlinux(built.results / "vmlinux")
            raw = parse_trace(run.trace, symtab.address(SWI_SYMBOL))
            write_outputs(analyze(raw, symtab, syscall_names(table)), folder)
            (folder / "trace-manifest.json").write_text(json.dumps(run.manifest, indent=1))
            (folder / "console.log").write_bytes(run.console.read_bytes())
        finally:
            if not os.environ.get("KQUAL_KEEP_TRACES"):
                run.trace.unlink(missing_ok=True)

    return cache.get_or_fill(profile_key(built, workload, name, selector), fill)
