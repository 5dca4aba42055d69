"""The workload profile of a built candidate: traced once, then from the cache."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..core import jsonfile
from ..core.paths import work_dir
from ..image.candidate import BuiltCandidate
from ..image.kernel_source import prepare_source
from ..settings.selectors import Selector
from ..settings.target import Target
from ..settings.workload import Workload
from .analysis import write_outputs
from .cache import CacheEntry, CacheKey, ProfileCache, analysis_code_digest
from .cli import analyze_trace
from .collect import collect_trace
from .symbols import SymbolTable


def profile_key(
    built: BuiltCandidate, workload: Workload, name: str, selector: Selector
) -> CacheKey:
    return CacheKey(
        image_fingerprint=built.fingerprint.digest,
        workload_sha256=workload.sha256,
        selector=name,
        selector_spec=json.dumps(selector.definition, sort_keys=True),
        analysis_code=analysis_code_digest(),
    )


def get_profile(
    target: Target,
    built: BuiltCandidate,
    workload: Workload,
    name: str,
    selector: Selector,
    cache: ProfileCache,
) -> CacheEntry:
    """The cached profile of `built` under `selector`; traces only on a miss.

    A copy lands in the candidate's results as profile-<selector>/.
    """
    table = prepare_source(target, built.results).syscall_table
    key = profile_key(built, workload, name, selector)
    # One scratch folder per key and process: parallel workers never share a trace file.
    scratch = work_dir() / "traces" / f"{name}-{key.digest[:16]}-{os.getpid()}"

    def fill(folder: Path) -> None:
        symtab = SymbolTable.from_vmlinux(built.results / "vmlinux")
        run = collect_trace(
            target,
            built.axf,
            symtab,
            built.fingerprint.digest,
            workload,
            name,
            selector,
            scratch,
        )
        try:
            write_outputs(analyze_trace(run.trace, symtab, table), folder)
            (folder / "trace-manifest.json").write_text(jsonfile.dumps("trace", run.manifest))
            (folder / "console.log").write_bytes(run.console.read_bytes())
        finally:
            if not os.environ.get("KQUAL_KEEP_TRACES"):
                shutil.rmtree(scratch, ignore_errors=True)

    entry = cache.get_or_fill(key, fill)
    ProfileCache.materialize(entry, built.results / f"profile-{name}")
    return entry
