"""Per-initcall guest durations and boot phases, from initcall_debug consoles:
a real excerpt (tests/data/initcalls: the an385 syscall-prune kernel booted by
kqual with initcall_debug under -icount) and hand-written edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.boot.initcalls import (
    InitcallError,
    Timeline,
    explain,
    growth,
    parse_initcalls,
    timeline,
)

DATA = Path(__file__).parent / "data" / "initcalls"


def real(name: str) -> str:
    return (DATA / f"{name}.log").read_text()


def test_a_real_console_gives_every_initcall_and_the_phases():
    tl = timeline(real("an385-syscall-prune"), 61.221)
    assert len(tl.initcalls) == 126
    top = [(c.name, c.usecs) for c in tl.top(3)]
    assert top == [("populate_rootfs", 5354), ("blake2s_mod_init", 4904), ("slab_late_init", 1193)]
    assert tl.phases["unpack_initramfs"] == 5.354
    assert tl.phases["init"] == pytest.approx(61.221 - 60.012, abs=1e-3)
    assert sum(tl.phases.values()) == pytest.approx(61.221, abs=0.005)
    assert Timeline.from_json(tl.as_json()) == tl


def test_a_kernel_without_kallsyms_is_named_from_its_map():
    text = (
        "[    0.010000] calling  0x21012345 @ 1\n"
        "[    0.010100] initcall 0x21012345 returned 0 after 7 usecs\n"
        "[    0.020000] Run /init as init process\n"
    )
    tl = timeline(text, 21.0, 3.5, {0x21012344: "foo_init"})
    assert [(c.name, c.usecs) for c in tl.initcalls] == [("foo_init", 7)]
    assert tl.phases["decompress"] == 3.5 and tl.phases["kernel_start"] == 10.0


def test_a_cut_short_boot_is_an_error_not_a_zero():
    with pytest.raises(InitcallError, match="never returned"):
        parse_initcalls("[    0.010000] calling  foo_init+0x0/0x20 @ 1\n")
    with pytest.raises(InitcallError, match="no initcall_debug lines"):
        parse_initcalls("[    0.000000] Booting Linux on physical CPU 0x0\n")
    with pytest.raises(InitcallError, match="without its 'calling' line"):
        parse_initcalls("[    0.010100] initcall foo_init+0x0/0x20 returned 0 after 7 usecs\n")


def test_growth_names_the_initcalls_and_phases_that_grew():
    base = timeline(real("an385-syscall-prune"), 61.221)
    text = real("an385-syscall-prune").replace(
        "initcall populate_rootfs+0x1/0x3c returned 0 after 5354 usecs",
        "initcall populate_rootfs+0x1/0x3c returned 0 after 29354 usecs",
    )
    assert text != real("an385-syscall-prune")
    slower = Timeline(parse_initcalls(text), dict(base.phases, unpack_initramfs=29.354))
    grew, phases = growth(base, slower)
    assert [(g.name, g.delta) for g in grew] == [("populate_rootfs", 24000)]
    assert phases["unpack_initramfs"] == 24.0
    assert explain(base, slower) == (
        "phases grew: unpack_initramfs +24,000 us; initcalls grew: populate_rootfs +24,000 us"
    )
