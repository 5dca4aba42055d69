"""Boot a candidate several times and record what a qualification needs.

Wall-clock figures vary with the host's load, so each is sampled `boots`
times and the median is reported; the guest-time figure comes from boots
under -icount, where it is the same on every boot, which makes it the
figure a regression rule can rely on. For a zImage it includes the
decompressor's time, which the printk stamps cannot see (boot/pre_kernel.py).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ..core.progress import say
from ..settings.target import Target
from .qemu import BootTimes, QemuOptions, QemuSession


@dataclass
class BootReport:
    samples: list[BootTimes] = field(default_factory=list)
    guest_samples: list[float | None] = field(default_factory=list)  # guest time, in full
    pre_kernel_ms: float | None = None  # of which before the kernel's entry

    @property
    def shell_ready_ms(self) -> float:
        return statistics.median(s.shell_ready_ms for s in self.samples)

    @property
    def boot_marker_ms(self) -> float:
        return statistics.median(s.boot_marker_ms for s in self.samples)

    @property
    def guest_shell_ready_ms(self) -> float | None:
        """The icount figure; None when the boots disagree (it must not)."""
        values = set(self.guest_samples)
        return self.guest_samples[0] if len(values) == 1 else None

    def as_result(self) -> dict:
        return {
            "boot_marker_ms": round(self.boot_marker_ms, 1),
            "shell_ready_ms": round(self.shell_ready_ms, 1),
            "shell_ready_samples_ms": [round(s.shell_ready_ms, 1) for s in self.samples],
            "boot_marker_samples_ms": [round(s.boot_marker_ms, 1) for s in self.samples],
            "guest_shell_ready_ms": self.guest_shell_ready_ms,
            "guest_shell_ready_samples_ms": self.guest_samples,
            **({"guest_pre_kernel_ms": self.pre_kernel_ms} if self.pre_kernel_ms else {}),
        }


def icount_boot(
    target: Target, axf: Path, log: Path, pre_kernel_ms: float | None = None
) -> float | None:
    """Guest ms from reset to the shell: the ready line's printk stamp, plus what
    ran before the kernel's clock (a zImage's decompressor), when there is any."""
    with QemuSession(target, axf, log, QemuOptions(icount=True)) as s:
        printk = s.boot().guest_shell_ready_ms
    return None if printk is None else round(printk + (pre_kernel_ms or 0.0), 6)


def qualify_boot(
    target: Target,
    axf: Path,
    out: Path,
    boots: int,
    icount_boots: int,
    label: str,
    pre_kernel_ms: float | None = None,
) -> tuple[BootReport, QemuSession]:
    """Measure boots; the last wall-clock boot is returned live, for the workload.

    The caller owns the returned session and must close it.
    """
    report = BootReport(pre_kernel_ms=pre_kernel_ms)
    for i in range(1, icount_boots + 1):
        log = out / f"console-icount-{i}.log"
        report.guest_samples.append(icount_boot(target, axf, log, pre_kernel_ms))
    live = None
    for i in range(1, boots + 1):
        session = QemuSession(target, axf, out / f"console-boot-{i}.log")
        try:
            session.start()
            report.samples.append(session.boot())
        except BaseException:
            session.close()
            raise
        if i < boots:
            session.close()
        else:
            live = session
    say(
        f"{label}: shell_ready {report.shell_ready_ms:.0f} ms (median of "
        f"{[round(s.shell_ready_ms) for s in report.samples]}), guest "
        f"{report.guest_shell_ready_ms} ms under icount"
    )
    assert live is not None
    return report, live
