"""Collect a QEMU trace of a candidate booting and running the workload.

The trace, the console log and a manifest saying exactly what produced them
(image fingerprint, workload sha256, selector, QEMU version, command line)
are written side by side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..boot.qemu import QemuOptions, QemuSession
from ..core import jsonfile
from ..core.errors import KqualError
from ..core.fingerprint import tool_version
from ..core.progress import say
from ..settings.selectors import Selector
from ..settings.target import Target
from ..settings.workload import Workload
from .symbols import SymbolTable


@dataclass
class TraceRun:
    trace: Path
    console: Path
    manifest: dict
    step_failures: list[str]


def qemu_options(selector: Selector, symtab: SymbolTable, trace: Path) -> QemuOptions:
    dfilter = None
    if selector.dfilter_symbol:
        if selector.dfilter_symbol not in symtab.by_name:
            raise KqualError(
                f"trace selector's dfilter_symbol '{selector.dfilter_symbol}' is not in this "
                "vmlinux: its sources name it, but this kernel's config leaves it out; "
                "choose a function this build has"
            )
        start = symtab.address(selector.dfilter_symbol)
        dfilter = f"{start:#x}..{start + 1:#x}"
    return QemuOptions(
        debug=selector.debug, debug_file=trace, dfilter=dfilter, icount=selector.icount
    )


def collect_trace(
    target: Target,
    axf: Path,
    symtab: SymbolTable,
    image_fingerprint: str,
    workload: Workload,
    name: str,
    selector: Selector,
    out: Path,
) -> TraceRun:
    out.mkdir(parents=True, exist_ok=True)
    trace = out / f"{name}.trace"
    console = out / f"{name}.console.log"
    opts = qemu_options(selector, symtab, trace)
    failures = []
    start = time.monotonic()
    say(f"tracing ({name}: -d {selector.debug}) the workload on {axf}")
    with QemuSession(target, axf, console, opts) as session:
        session.boot()
        for step in workload.steps:
            res = session.run(step.command, (step.timeout_s or target.boot.step_timeout_s) * 4)
            if step.failure(res.output, res.status):
                failures.append(step.label)
        argv = session.argv
    elapsed = time.monotonic() - start
    size = trace.stat().st_size if trace.exists() else 0
    say(f"trace {name}: {size / 1e6:.1f} MB in {elapsed:.1f}s")
    manifest = {
        "image_fingerprint": image_fingerprint,
        "workload_sha256": workload.sha256,
        "selector": name,
        "selector_debug": selector.debug,
        "dfilter": opts.dfilter,
        "qemu_version": tool_version(target.qemu.binary),
        "qemu_command": argv,
        "trace_bytes": size,
        "seconds": round(elapsed, 2),
        "workload_failures": failures,
    }
    (out / f"{name}.manifest.json").write_text(jsonfile.dumps("trace", manifest))
    return TraceRun(trace, console, manifest, failures)
