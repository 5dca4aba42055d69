"""The baseline's workload profile: traced under each selector, then cached."""

from __future__ import annotations

import json

GET_TLS, SET_TLS = 0xF0006, 0xF0005
# Syscalls the workload cannot run without, by their EABI numbers.
REQUIRED = {"11": "execve", "114": "wait4", "190": "vfork", "5": "open", "4": "write"}


def test_syscalls_profile(baseline_profile, record_property):
    entry = baseline_profile("syscalls")
    p = json.loads(entry.file("profile.json").read_text())
    record_property("profile_cache_hit", entry.hit)
    record_property("syscalls_distinct", len(p["syscalls"]))
    assert p["orphans"] == 0
    for nr, name in REQUIRED.items():
        assert p["syscalls"].get(nr, 0) > 0, f"{name} ({nr}) missing from the profile"
        assert p["syscall_names"][nr] == name
    # musl on M-profile reads its thread pointer through get_tls: reported apart.
    assert p["private_syscalls"].get(str(GET_TLS), 0) > 0
    assert p["private_syscalls"].get(str(SET_TLS), 0) > 0
    assert all(int(n) <= 511 for n in p["syscalls"])
    manifest = json.loads(entry.file("trace-manifest.json").read_text())
    assert manifest["selector"] == "syscalls" and "-dfilter" in manifest["qemu_command"]
    assert manifest["workload_failures"] == []


def test_full_and_syscalls_selectors_agree(baseline_profile):
    """The same syscalls under both selectors, apart from timing-dependent polling."""
    full = json.loads(baseline_profile("full").file("profile.json").read_text())
    sysc = json.loads(baseline_profile("syscalls").file("profile.json").read_text())
    assert set(full["syscalls"]) == set(sysc["syscalls"])
    for nr in full["syscalls"]:
        a, b = full["syscalls"][nr], sysc["syscalls"][nr]
        assert abs(a - b) <= max(2, 0.05 * max(a, b)), f"syscall {nr}: full {a}, syscalls {b}"
    assert full["matched"] > 100 * sysc["blocks"]  # the full trace saw the whole kernel
    assert full["hot"] and len(full["first_seen"]) >= len(full["hot"])


def test_second_request_is_a_cache_hit(
    baseline_profile, profile_cache, baseline, workload, target, selectors, monkeypatch
):
    from harness.trace import profile

    first = baseline_profile("syscalls")

    def no_trace(*args, **kwargs):
        raise AssertionError("a cache hit must not trace")

    monkeypatch.setattr(profile, "collect_trace", no_trace)
    again = profile.get_profile(
        target, baseline, workload, "syscalls", selectors["syscalls"], profile_cache
    )
    assert again.hit and again.folder == first.folder
