"""The boot that says where boot time goes: the candidate's kernel wrapped with
initcall_debug on its command line, booted once under -icount."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import MissingMeasurement
from ..core.progress import say
from ..image.candidate import BuiltCandidate, wrap_kernel
from ..kernel.system_map import read_system_map
from ..settings.target import Target
from .initcalls import DEBUG_ARGS, Timeline, timeline
from .qemu import QemuOptions, QemuSession

FOLDER = "initcall-boot"  # in the candidate's results folder


def function_names(system_map: Path) -> dict[int, str]:
    """Text address -> the first function name the map gives it."""
    out: dict[int, str] = {}
    for s in read_system_map(system_map):
        if s.kind in "tTwW":
            out.setdefault(s.address, s.name)
    return out


def initcall_boot(target: Target, built: BuiltCandidate, label: str) -> Timeline:
    out = built.results / FOLDER
    out.mkdir(parents=True, exist_ok=True)
    axf = wrap_kernel(target, built.kernel, out, f"{target.kernel.cmdline} {DEBUG_ARGS}")
    log = out / "console-initcalls.log"
    say(f"{label}: booting with initcall_debug under -icount (where boot time goes)")
    with QemuSession(target, axf, log, QemuOptions(icount=True)) as s:
        ready = s.boot().guest_shell_ready_ms
        text = s.seen
    if ready is None:
        raise MissingMeasurement(f"{label}: no shell-ready printk stamp in {log}")
    return timeline(
        text, ready, built.pre_kernel_ms or 0.0, function_names(built.results / "System.map")
    )
