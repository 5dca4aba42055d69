"""Candidates that boot a zImage: the decompressor's time is in their guest time.

The printk clock starts in the kernel, after the decompressor, so without
this count a compressed image would look as fast as its Image.
"""

from __future__ import annotations

import pytest

from harness.boot.console import GUEST_READY_TAG, guest_ms
from harness.boot.pre_kernel import measure_pre_kernel
from harness.boot.qualify import icount_boot


def test_pre_kernel_time_is_counted_and_repeats(cycle_runners, candidate):
    cycle, name = candidate
    runner = cycle_runners[cycle]
    built = runner.built(name)
    if built.kernel.zimage is None:
        assert built.pre_kernel_ms is None
        pytest.skip(f"{cycle}/{name} boots the Image: the wrapper jumps straight into it")
    assert built.pre_kernel_ms and built.pre_kernel_ms > 0
    # linux.axf holds the zImage, smaller than the Image it decompresses
    assert built.axf_bytes < built.kernel.image.stat().st_size
    target = runner.env.target
    again = measure_pre_kernel(
        target,
        built.axf,
        target.memory.load_address,
        built.kernel.image.stat().st_size,
        runner.results(name) / "pre-kernel-again",
    )
    assert again.guest_ms == built.pre_kernel_ms, "the decompressor's count differs between boots"
    # an -icount boot's figure: its console's printk stamp plus the count
    log = runner.results(name) / "pre-kernel-again" / "console-icount.log"
    total = icount_boot(target, built.axf, log, built.pre_kernel_ms)
    printk = guest_ms(log.read_text(errors="replace"), GUEST_READY_TAG)
    assert printk is not None and total == round(printk + built.pre_kernel_ms, 6), log
