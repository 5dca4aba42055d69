"""The bad-input corpus: every config file and option, broken the ways people break them.

Each case edits a copy of configs/ (or passes a bad option) and checks
that loading the run's settings fails with a ConfigError that names the file
(or option) and the key, and that nothing was built or cached. A case that
reading the files alone catches needs no tool; the others are caught when
the inputs are checked against QEMU, the compiler and the kernel source,
and are skipped where those are missing. A few cases
run pytest itself, to check the user sees a usage error (exit 4) and no
traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.core.errors import ConfigError, KqualError
from harness.core.paths import cache_dir
from harness.kernel.source import source_facts, source_fingerprint, source_mentions
from harness.plugin import missing_tool, require_tools
from harness.settings.load import check_settings, read_settings
from harness.settings.target import read_target

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Case:
    id: str
    file: str  # file under the configs copy to change, or "" for options only
    change: object  # new text, a (old, new) replacement, or bytes
    message: str  # a regex the error must match
    where: str  # what the error must name: a file name or an option
    options: dict | None = None


def sub(old: str, new: str) -> tuple[str, str]:
    return (old, new)


TARGET = [
    Case(
        "target-malformed",
        "target.yaml",
        sub("qemu:\n", "qemu:\n\t"),
        "malformed YAML",
        "target.yaml",
    ),
    Case("target-empty", "target.yaml", "", "file is empty", "target.yaml"),
    Case("target-not-utf8", "target.yaml", b"name: \xff\xfe\n", "not UTF-8", "target.yaml"),
    Case(
        "target-name-escapes",
        "target.yaml",
        sub("name: mps2-an385", "name: ../../escape"),
        "'name' '../../escape' becomes a folder name",
        "target.yaml",
    ),
    Case(
        "target-name-empty",
        "target.yaml",
        sub("name: mps2-an385", 'name: ""'),
        "'name' '' becomes a folder name",
        "target.yaml",
    ),
    Case(
        "target-name-with-slash",
        "target.yaml",
        sub("name: mps2-an385", "name: boards/an385"),
        "'name' 'boards/an385' becomes a folder name",
        "target.yaml",
    ),
    Case(
        "target-kernel-patches-missing",
        "target.yaml",
        sub("patches: patches/linux", "patches: patches/nosuch"),
        "'kernel.patches': kernel patch folder .*patches/nosuch does not exist",
        "target.yaml",
    ),
    Case(
        "target-musl-patches-missing",
        "target.yaml",
        sub("musl_patches: patches/musl", "musl_patches: patches/muls"),
        "'userspace.musl_patches': musl patch folder .*patches/muls does not exist",
        "target.yaml",
    ),
    Case(
        "target-ram-size-zero",
        "target.yaml",
        sub("ram_size: 0x01000000", "ram_size: 0"),
        "'memory.ram_size' must be greater than 0",
        "target.yaml",
    ),
    Case(
        "target-unknown-key",
        "target.yaml",
        sub("name: ", "nmae: x\nname: "),
        "unknown key 'nmae'",
        "target.yaml",
    ),
    Case(
        "target-unknown-nested",
        "target.yaml",
        sub("  cpu: cortex-m3", "  cpu: cortex-m3\n  machin: x"),
        "unknown key 'qemu.machin'",
        "target.yaml",
    ),
    Case(
        "target-boots-string",
        "target.yaml",
        sub("boots: 3", "boots: three"),
        "'boot.boots' must be an integer",
        "target.yaml",
    ),
    Case(
        "target-boots-zero",
        "target.yaml",
        sub("boots: 3", "boots: 0"),
        "'boot.boots' must be at least 1",
        "target.yaml",
    ),
    Case(
        "target-boot-timeout-negative",
        "target.yaml",
        sub("boot_timeout_s: 60", "boot_timeout_s: -5"),
        "'boot.boot_timeout_s' must be greater than 0",
        "target.yaml",
    ),
    Case(
        "target-step-timeout-zero",
        "target.yaml",
        sub("step_timeout_s: 15", "step_timeout_s: 0"),
        "'boot.step_timeout_s' must be greater than 0",
        "target.yaml",
    ),
    Case(
        "target-unknown-machine",
        "target.yaml",
        sub("machine: mps2-an385", "machine: mps2-an999"),
        "'qemu.machine' 'mps2-an999' is not known",
        "target.yaml",
    ),
    Case(
        "target-unknown-cpu",
        "target.yaml",
        sub("cpu: cortex-m3", "cpu: cortex-m99"),
        "'qemu.cpu' 'cortex-m99' is not known",
        "target.yaml",
    ),
    Case(
        "target-qemu-missing",
        "target.yaml",
        sub("binary: qemu-system-arm", "binary: qemu-system-nosuch"),
        "'qemu-system-nosuch' was not found",
        "qemu-system-nosuch",
    ),
    Case(
        "target-toolchain-missing",
        "target.yaml",
        sub("toolchain_prefix: arm-none-eabi-", "toolchain_prefix: nosuch-"),
        "'nosuch-gcc' was not found",
        "nosuch-gcc",
    ),
    Case(
        "target-toolchain-folder-missing",
        "target.yaml",
        sub(
            "toolchain_prefix: arm-none-eabi-", "toolchain_prefix: /nonexistent/bin/arm-none-eabi-"
        ),
        "'toolchain_prefix' '/nonexistent/bin/arm-none-eabi-': /nonexistent/bin/arm-none-eabi-gcc "
        "does not exist or is not executable",
        "target.yaml",
    ),
    Case(
        "target-no-tarball",
        "target.yaml",
        sub("source: /usr/src/linux-source-6.12.tar.xz", "source: /nonexistent/linux.tar.xz"),
        "'kernel.source': kernel source tarball",
        "target.yaml",
    ),
    Case(
        "target-fragment-missing",
        "target.yaml",
        sub("fragments: [", "fragments: [configs/kernel/nosuch.config, "),
        r"'kernel.fragments\[0\]'",
        "target.yaml",
    ),
    Case(
        "target-dtb-low",
        "target.yaml",
        sub("dtb_address: 0x00001000", "dtb_address: 0x58"),
        "'memory.dtb_address' is 0x58",
        "target.yaml",
    ),
    Case(
        "target-defconfig-unknown",
        "target.yaml",
        sub("defconfig: mps2_defconfig", "defconfig: mps3_defconfig"),
        r"'kernel.defconfig' 'mps3_defconfig' is not in this kernel tree \(arch/arm/configs/\); "
        "similar: .*mps2_defconfig",
        "target.yaml",
    ),
    Case(
        "target-defconfig-a-path",
        "target.yaml",
        sub("defconfig: mps2_defconfig", "defconfig: arch/arm/configs/mps2_defconfig"),
        "'kernel.defconfig' .* is not in this kernel tree",
        "target.yaml",
    ),
    Case(
        "target-dtb-unknown",
        "target.yaml",
        sub("dtb: arm/mps2-an385.dtb", "dtb: arm/mps2-an386.dtb"),
        "'kernel.dtb' 'arm/mps2-an386.dtb' is not in this kernel tree .*similar: arm/mps2-an385",
        "target.yaml",
    ),
    Case(
        "target-dtb-without-folder",
        "target.yaml",
        sub("dtb: arm/mps2-an385.dtb", "dtb: mps2-an385.dtb"),
        "'kernel.dtb' 'mps2-an385.dtb' is not in this kernel tree .*similar: arm/mps2-an385.dtb",
        "target.yaml",
    ),
    Case(
        "target-toolchain-no-dash",
        "target.yaml",
        sub("toolchain_prefix: arm-none-eabi-", "toolchain_prefix: arm-none-eabi"),
        "'toolchain_prefix' 'arm-none-eabi' lacks its trailing '-'",
        "target.yaml",
    ),
    Case(
        "target-args-two-in-one",
        "target.yaml",
        sub("args: [-nographic, -no-reboot]", "args: [-nographic -no-reboot]"),
        "'qemu.args' item '-nographic -no-reboot' holds two arguments",
        "target.yaml",
    ),
    Case(
        "target-cflags-two-in-one",
        "target.yaml",
        sub("cflags: [-Os]", "cflags: [-Os -g]"),
        "'userspace.cflags' item '-Os -g' holds two arguments",
        "target.yaml",
    ),
    Case(
        "target-uart-value-over-a-byte",
        "target.yaml",
        sub("ctrl_value: 0x3", "ctrl_value: 0x1003"),
        r"'uart.ctrl_value' 0x1003 does not fit the byte",
        "target.yaml",
    ),
    Case(
        "target-sp-past-32-bits",
        "target.yaml",
        sub("initial_sp: 0x00400000", "initial_sp: 0x100400000"),
        "'memory.initial_sp' 0x100400000 is not a 32-bit address",
        "target.yaml",
    ),
    Case(
        "target-dtb-in-kernel-ram",
        "target.yaml",
        sub("dtb_address: 0x00001000", "dtb_address: 0x21800000"),
        "'memory.dtb_address' 0x21800000 lies in the RAM the kernel is loaded into",
        "target.yaml",
    ),
    Case(
        "target-busybox-config-a-folder",
        "target.yaml",
        sub("/busybox.config", "/"),
        "'userspace.busybox_config': BusyBox config fragment .* is not a file",
        "target.yaml",
    ),
    Case(
        "target-name-ends-in-newline",
        "target.yaml",
        sub("name: mps2-an385", 'name: "mps2-an385\\n"'),
        "'name' 'mps2-an385.n' becomes a folder name",
        "target.yaml",
    ),
    Case(
        "target-name-too-long",
        "target.yaml",
        sub("name: mps2-an385", "name: " + "a" * 65),
        "becomes a folder name: .* at most 64 characters",
        "target.yaml",
    ),
    Case(
        "target-source-not-a-tarball",
        "target.yaml",
        sub("source: /usr/src/linux-source-6.12.tar.xz", "source: /etc/hostname"),
        r"'kernel.source': /etc/hostname is not a tar archive",
        "target.yaml",
    ),
    Case(
        "target-source-a-folder",
        "target.yaml",
        sub("source: /usr/src/linux-source-6.12.tar.xz", "source: /usr/src"),
        r"'kernel.source': the folder /usr/src is no Linux source tree \(no Makefile\)",
        "target.yaml",
    ),
    Case(
        "target-load-outside-ram",
        "target.yaml",
        sub("load_address: 0x21008000", "load_address: 0x30000000"),
        "'memory.load_address' 0x30000000 is outside RAM",
        "target.yaml",
    ),
    Case(
        "target-duplicate-key",
        "target.yaml",
        sub("name: mps2-an385", "name: mps2-an385\nname: again"),
        "duplicate key 'name'",
        "target.yaml",
    ),
    Case(
        "target-initramfs-missing",
        "target.yaml",
        sub("initramfs: ", "initramfs: /nonexistent/"),
        "'userspace.initramfs'",
        "target.yaml",
    ),
    Case(
        "target-empty-prompt",
        "target.yaml",
        sub('prompt: "/ # "', 'prompt: ""'),
        "'boot.prompt' must not be empty",
        "target.yaml",
    ),
    Case(
        "target-list-not-mapping", "target.yaml", "- a\n- b\n", "must be a mapping", "target.yaml"
    ),
]

CYCLES = [
    Case(
        "search-trials-huge",
        "cycles.yaml",
        sub("      from: syscall-prune\n", "      from: syscall-prune\n      trials: 100000\n"),
        "'cycles.size_search.search.trials' must be at most 1000",
        "cycles.yaml",
    ),
    Case(
        "cycles-prune-twice",
        "cycles.yaml",
        sub(
            "derive: [prune_syscalls]    #",
            "derive: [prune_syscalls, {prune_syscalls: {keep_reachable: false}}]    #",
        ),
        "'prune_syscalls' applies once per candidate, but it is here twice",
        "cycles.yaml",
    ),
    Case(
        "cycles-prune-again-in-chain",
        "cycles.yaml",
        sub(
            "      - name: syscall-prune-trace\n",
            "      - name: again\n        from: syscall-prune\n"
            "        derive: [{prune_syscalls: {keep_reachable: false}}]\n"
            "      - name: syscall-prune-trace\n",
        ),
        "'prune_syscalls' applies once per candidate, but it is here and in 'syscall-prune'",
        "cycles.yaml",
    ),
    Case(
        "cycles-name-escapes",
        "cycles.yaml",
        sub("  syscall_prune:\n", "  ../syscall_prune:\n"),
        "cycle name '../syscall_prune'",
        "cycles.yaml",
    ),
    Case(
        "cycles-candidate-name-dotdot",
        "cycles.yaml",
        sub(
            "      - name: baseline\n",
            "      - name: ..\n",
        ),
        "candidate name '..'",
        "cycles.yaml",
    ),
    Case(
        "cycles-options-typo",
        "cycles.yaml",
        sub(
            "        derive: [search]",
            "        derive: [search]\n      - name: typo\n        from: syscall-prune\n"
            "        derive: [{options: {set: {KALLSYM: n}}}]",
        ),
        "'options' sets CONFIG_KALLSYM, which is not a Kconfig symbol",
        "cycles.yaml",
    ),
    Case(
        "cycles-name-a-number",
        "cycles.yaml",
        sub("  syscall_prune:\n", "  2024:\n"),
        "'cycles': key 2024 is read as an integer; a key here is a name: quote it",
        "cycles.yaml",
    ),
    Case(
        "cycles-search-from-its-carrier",
        "cycles.yaml",
        sub("search:\n      from: syscall-prune", "search:\n      from: search-best"),
        "the search runs from 'search-best', the candidate that carries its result",
        "cycles.yaml",
    ),
    Case(
        "cycles-search-result-on-another-base",
        "cycles.yaml",
        sub(
            "name: search-best\n        from: syscall-prune",
            "name: search-best\n        from: config-only",
        ),
        "'search-best' carries the result of a search run from 'syscall-prune', but derives "
        "from 'config-only'",
        "cycles.yaml",
    ),
    Case(
        "cycles-options-without-set",
        "cycles.yaml",
        sub("derive: [search]", "derive: [search, options]"),
        "'set' is empty",
        "cycles.yaml",
    ),
    Case(
        "cycles-options-upper-case",
        "cycles.yaml",
        sub("derive: [search]", "derive: [search, {options: {set: {KALLSYMS: N}}}]"),
        "KALLSYMS: write n, not N",
        "cycles.yaml",
    ),
    Case(
        "cycles-options-no-value",
        "cycles.yaml",
        sub("derive: [search]", "derive: [search, {options: {set: {KALLSYMS: }}}]"),
        "KALLSYMS: value None is not y, n, m, a number or a string",
        "cycles.yaml",
    ),
    Case(
        "cycles-malformed",
        "cycles.yaml",
        sub("cycles:\n", "cycles:\n  x: [\n"),
        "malformed YAML",
        "cycles.yaml",
    ),
    Case("cycles-empty", "cycles.yaml", "", "expected a mapping with 'cycles:'", "cycles.yaml"),
    Case("cycles-none", "cycles.yaml", "cycles: {}\n", "no cycles declared", "cycles.yaml"),
    Case(
        "cycles-list",
        "cycles.yaml",
        "cycles: [a, b]\n",
        "'cycles' must be a mapping",
        "cycles.yaml",
    ),
    Case(
        "cycles-duplicate-cycle",
        "cycles.yaml",
        sub("cycles:\n", "cycles:\n  syscall_prune: {candidates: [{name: baseline}]}\n"),
        "duplicate key 'syscall_prune'",
        "cycles.yaml",
    ),
    Case(
        "cycles-duplicate-candidate",
        "cycles.yaml",
        sub(
            "      - name: config-only",
            "      - name: baseline\n        from: baseline\n      - name: config-only",
        ),
        "candidate 'baseline' already declared",
        "cycles.yaml",
    ),
    Case(
        "cycles-from-unknown",
        "cycles.yaml",
        sub("from: baseline", "from: nosuch"),
        "derives from 'nosuch'",
        "cycles.yaml",
    ),
    Case(
        "cycles-from-later",
        "cycles.yaml",
        sub(
            "      - name: config-only\n        from: baseline",
            "      - name: config-only\n        from: syscall-prune",
        ),
        "derives from 'syscall-prune', which is not listed before it",
        "cycles.yaml",
    ),
    Case(
        "cycles-from-itself",
        "cycles.yaml",
        sub(
            "      - name: config-only\n        from: baseline",
            "      - name: config-only\n        from: config-only",
        ),
        "derives from 'config-only'",
        "cycles.yaml",
    ),
    Case(
        "cycles-baseline-derives",
        "cycles.yaml",
        sub("      - name: baseline\n", "      - name: baseline\n        from: x\n"),
        "the first candidate is the baseline",
        "cycles.yaml",
    ),
    Case(
        "cycles-no-candidates",
        "cycles.yaml",
        "cycles:\n  c:\n    candidates: []\n",
        "cycle 'c' has no candidates",
        "cycles.yaml",
    ),
    Case(
        "cycles-boots-zero",
        "cycles.yaml",
        sub("  syscall_prune:\n", "  syscall_prune:\n    regression: {boots: 0}\n"),
        "'cycles.syscall_prune.regression.boots' must be at least 1",
        "cycles.yaml",
    ),
    Case(
        "cycles-unknown-metric",
        "cycles.yaml",
        sub("  syscall_prune:\n", "  syscall_prune:\n    regression: {metric: wall_ms}\n"),
        "'cycles.syscall_prune.regression.metric' must be one of",
        "cycles.yaml",
    ),
    Case(
        "cycles-negative-tolerance",
        "cycles.yaml",
        sub("  syscall_prune:\n", "  syscall_prune:\n    regression: {tolerance: -0.1}\n"),
        "'cycles.syscall_prune.regression.tolerance' must be at least 0",
        "cycles.yaml",
    ),
    Case(
        "cycles-string-tolerance",
        "cycles.yaml",
        sub("  syscall_prune:\n", "  syscall_prune:\n    regression: {tolerance: two percent}\n"),
        "'cycles.syscall_prune.regression.tolerance' must be a number",
        "cycles.yaml",
    ),
    Case(
        "cycles-unknown-selector",
        "cycles.yaml",
        sub("  syscall_prune:\n", "  syscall_prune:\n    selector: nosuch\n"),
        "selector 'nosuch' is not a selector",
        "cycles.yaml",
    ),
    Case(
        "cycles-unknown-trim-selector",
        "cycles.yaml",
        sub("  syscall_prune:\n", "  syscall_prune:\n    trim_selector: nosuch\n"),
        "trim_selector 'nosuch'",
        "cycles.yaml",
    ),
    Case(
        "cycles-fragment-missing",
        "cycles.yaml",
        sub("kernel/trim.config]", "trim/nosuch.config]"),
        "fragment .*trim/nosuch.config not found",
        "cycles.yaml",
    ),
    Case(
        "cycles-keep-missing",
        "cycles.yaml",
        sub(
            "  syscall_prune:\n", "  syscall_prune:\n    syscall_keep: configs/rules/nosuch.yaml\n"
        ),
        "syscall_keep file .*nosuch.yaml not found",
        "cycles.yaml",
    ),
    Case(
        "cycles-rules-missing",
        "cycles.yaml",
        sub("  syscall_prune:\n", "  syscall_prune:\n    trim_rules: configs/trim/nosuch.yaml\n"),
        "trim_rules file",
        "cycles.yaml",
    ),
    Case(
        "cycles-typo-key",
        "cycles.yaml",
        sub("derive: [prune_syscalls]", "derive: [prune_syscall]"),
        "unknown derivation 'prune_syscall'",
        "cycles.yaml",
    ),
    Case(
        "cycles-bool-as-string",
        "cycles.yaml",
        sub("keep_reachable: false", "keep_reachable: maybe"),
        "option 'keep_reachable' of 'prune_syscalls' must be bool",
        "cycles.yaml",
    ),
    Case(
        "cycles-bad-candidate-name",
        "cycles.yaml",
        sub("- name: config-only", "- name: config only"),
        "candidate name 'config only'",
        "cycles.yaml",
    ),
    Case(
        "cycles-order-unknown-selector",
        "cycles.yaml",
        sub("{order: {list: hot, selector: locality}}", "{order: {list: hot, selector: nosuch}}"),
        "'order' reads the 'nosuch' profile, which is not a selector",
        "cycles.yaml",
    ),
    Case(
        "cycles-accept-at-risk-string",
        "cycles.yaml",
        sub("  syscall_prune:\n", "  syscall_prune:\n    accept_at_risk: sometimes\n"),
        "'cycles.syscall_prune.accept_at_risk' must be true or false",
        "cycles.yaml",
    ),
    Case(
        "cycles-not-utf8", "cycles.yaml", b"cycles:\n  \xe9t\xe9: {}\n", "not UTF-8", "cycles.yaml"
    ),
]

WORKLOAD = [
    Case(
        "workload-empty-expect",
        "workload.yaml",
        sub(
            'command: "uname -sr", expect: "^Linux \\\\d+\\\\.\\\\d+\\\\.\\\\d+"}',
            'command: "uname -sr", expect: ""}',
        ),
        "step 'uname': an empty 'expect' matches any output",
        "workload.yaml",
    ),
    Case(
        "workload-unquoted-hash",
        "workload.yaml",
        sub(
            "steps:\n",
            "steps:\n  - label: hashed\n    command: echo a # b\n    expect: a\n",
        ),
        "step 'hashed': a '#' in an unquoted command starts a YAML comment, so the "
        "command would be 'echo a'",
        "workload.yaml",
    ),
    Case(
        "workload-lines-empty-expect",
        "workload.txt",
        "uname|uname -sr|\n",
        "step 'uname': an empty 'expect'",
        "workload.txt",
        {"workload": "workload.txt"},
    ),
    Case(
        "workload-exit-status-256",
        "workload.yaml",
        sub("exit_status: 1}", "exit_status: 256}"),
        "exit_status' must be at most 255",
        "workload.yaml",
    ),
    Case(
        "workload-timeout-nan",
        "workload.yaml",
        sub("{label: uname,", "{label: uname, timeout_s: .nan,"),
        "'steps\\[1\\].timeout_s' must be a finite number, not nan",
        "workload.yaml",
    ),
    Case(
        "workload-malformed",
        "workload.yaml",
        sub("steps:\n", "steps:\n  - {label: x, command: [\n"),
        "malformed YAML",
        "workload.yaml",
    ),
    Case(
        "workload-no-steps-key",
        "workload.yaml",
        "stepz: []\n",
        "unknown key 'stepz'",
        "workload.yaml",
    ),
    Case(
        "workload-empty-steps",
        "workload.yaml",
        "steps: []\n",
        "the workload has no steps",
        "workload.yaml",
    ),
    Case(
        "workload-missing-command",
        "workload.yaml",
        "steps:\n  - {label: a, expect: x}\n",
        "missing key 'steps\\[0\\].command'",
        "workload.yaml",
    ),
    Case(
        "workload-bad-regex",
        "workload.yaml",
        "steps:\n  - {label: a, command: ls, expect: '(unclosed'}\n",
        "bad regex",
        "workload.yaml",
    ),
    Case(
        "workload-duplicate-label",
        "workload.yaml",
        "steps:\n  - {label: a, command: ls, expect: x}\n  - {label: a, command: ls, expect: x}\n",
        "label 'a' already used on line 2",
        "workload.yaml",
    ),
    Case(
        "workload-label-spaces",
        "workload.yaml",
        "steps:\n  - {label: a b, command: ls, expect: x}\n",
        "label 'a b' may only hold",
        "workload.yaml",
    ),
    Case(
        "workload-empty-command",
        "workload.yaml",
        "steps:\n  - {label: a, command: '  ', expect: x}\n",
        "empty command",
        "workload.yaml",
    ),
    Case(
        "workload-multiline-command",
        "workload.yaml",
        'steps:\n  - {label: a, command: "ls\\nls", expect: x}\n',
        "a command must be one line",
        "workload.yaml",
    ),
    Case(
        "workload-exit-status-string",
        "workload.yaml",
        "steps:\n  - {label: a, command: ls, expect: x, exit_status: zero}\n",
        "exit_status' must be an integer",
        "workload.yaml",
    ),
    Case(
        "workload-negative-timeout",
        "workload.yaml",
        "steps:\n  - {label: a, command: ls, expect: x, timeout_s: -1}\n",
        "timeout_s' must be greater than 0",
        "workload.yaml",
    ),
    Case(
        "workload-negative-status",
        "workload.yaml",
        "steps:\n  - {label: a, command: ls, expect: x, exit_status: -1}\n",
        "exit_status' must be at least 0",
        "workload.yaml",
    ),
    Case(
        "workload-not-utf8",
        "workload.yaml",
        b"steps:\n  - {label: a, command: \xff, expect: x}\n",
        "not UTF-8",
        "workload.yaml",
    ),
    Case(
        "workload-duplicate-key",
        "workload.yaml",
        "steps:\n  - {label: a, label: b, command: ls, expect: x}\n",
        "duplicate key 'label'",
        "workload.yaml",
    ),
    Case(
        "workload-lines-no-pipes",
        "workload.txt",
        "uname -a\n",
        "expected 'label\\|command\\|expected regex'",
        "workload.txt",
    ),
    Case("workload-lines-bad-regex", "workload.txt", "a|uname|[x\n", "bad regex", "workload.txt"),
    Case(
        "workload-lines-not-utf8", "workload.txt", b"a|echo \xfe|x\n", "not UTF-8", "workload.txt"
    ),
    Case(
        "workload-missing-file",
        "",
        None,
        "workload file not found",
        "nosuch.yaml",
        {"workload": "nosuch.yaml"},
    ),
]

TRACE = [
    Case(
        "trace-selector-name-escapes",
        "rules/trace.yaml",
        sub("  syscalls:", "  ../syscalls:"),
        "selector name '../syscalls'",
        "trace.yaml",
    ),
    Case(
        "trace-malformed",
        "rules/trace.yaml",
        sub("selectors:\n", "selectors:\n  full: {debug: [\n"),
        "malformed YAML",
        "trace.yaml",
    ),
    Case(
        "trace-empty-selectors",
        "rules/trace.yaml",
        "selectors: {}\n",
        "'selectors' is empty",
        "trace.yaml",
    ),
    Case(
        "trace-missing-debug",
        "rules/trace.yaml",
        sub("    debug: exec,cpu,in_asm\n", "    dfilter_symbol: x\n"),
        "missing key 'selectors.full.debug'",
        "trace.yaml",
    ),
    Case(
        "trace-unknown-item",
        "rules/trace.yaml",
        sub("debug: exec,cpu,in_asm", "debug: exec,cpu,in_asmm"),
        "QEMU has no -d item 'in_asmm'",
        "trace.yaml",
    ),
    Case(
        "trace-dfilter-typo",
        "rules/trace.yaml",
        sub("dfilter_symbol: vector_swi", "dfilter_symbol: vector_swy"),
        "selector 'syscalls': 'dfilter_symbol' 'vector_swy' appears in no .c, .S or .h file",
        "trace.yaml",
    ),
    Case(
        "trace-dfilter-not-a-name",
        "rules/trace.yaml",
        sub("dfilter_symbol: vector_swi", "dfilter_symbol: ../vector_swi"),
        "'dfilter_symbol' '../vector_swi' is not a kernel symbol name",
        "trace.yaml",
    ),
    Case(
        "trace-debug-with-blanks",
        "rules/trace.yaml",
        sub("debug: exec,cpu,in_asm", "debug: exec, cpu, in_asm"),
        "selector 'full': 'debug' 'exec, cpu, in_asm' holds blanks",
        "trace.yaml",
    ),
    Case(
        "trim-option-unknown",
        "rules/trim.yaml",
        sub("option: NFS_FS\n", "option: NFS_FSS\n"),
        "NFS_FSS is no Kconfig option of this kernel",
        "trim.yaml",
    ),
    Case(
        "trim-option-twice",
        "rules/trim.yaml",
        sub("option: NET\n", "option: NFS_FS\n"),
        "option NFS_FS has a rule already",
        "trim.yaml",
    ),
    Case(
        "trim-negative-limit",
        "rules/trim.yaml",
        sub("max_functions: 25", "max_functions: -1"),
        "'rules\\[0\\].max_functions' must be at least 0, not -1",
        "trim.yaml",
    ),
    Case(
        "trim-empty-regex",
        "rules/trim.yaml",
        sub('symbols: "^nfs"', 'symbols: ""'),
        r"trim.yaml:12: 'rules\[0\].symbols' must not be empty",
        "trim.yaml",
    ),
    Case(
        "initramfs-no-init",
        "userspace/initramfs.yaml",
        sub("links:\n  /init: /bin/busybox\n", ""),
        "nothing in it is /init",
        "initramfs.yaml",
    ),
    Case(
        "initramfs-mode-unquoted",
        "userspace/initramfs.yaml",
        sub('mode: "0755"', "mode: 0755"),
        "mode 493: quote it",
        "initramfs.yaml",
    ),
    Case(
        "trace-unknown-key",
        "rules/trace.yaml",
        sub("dfilter_symbol: vector_swi", "dfilter_sym: vector_swi"),
        "unknown key 'selectors.syscalls.dfilter_sym'",
        "trace.yaml",
    ),
]

KEEP = [
    Case(
        "keep-unknown-syscall",
        "rules/syscall_keep.yaml",
        sub("  exit: process exit\n", "  exitt: process exit\n"),
        "'exitt' is not a syscall",
        "syscall_keep.yaml",
    ),
    Case(
        "keep-not-mapping",
        "rules/syscall_keep.yaml",
        "keep: [exit, brk]\n",
        "'keep' must be a mapping",
        "syscall_keep.yaml",
    ),
    Case(
        "keep-malformed",
        "rules/syscall_keep.yaml",
        "keep:\n  exit: [\n",
        "malformed YAML",
        "syscall_keep.yaml",
    ),
    Case(
        "keep-duplicate",
        "rules/syscall_keep.yaml",
        sub("  exit: process exit\n", "  exit: process exit\n  exit: again\n"),
        "duplicate key 'exit'",
        "syscall_keep.yaml",
    ),
]

OPTIONS = [
    Case(
        "option-keep-typo",
        "",
        None,
        "'opne' is not a syscall name or number",
        "--keep-syscall",
        {"keep": ["opne"]},
    ),
    Case(
        "option-keep-out-of-range",
        "",
        None,
        "'9999' is not a syscall name or number",
        "--keep-syscall",
        {"keep": ["9999"]},
    ),
    Case(
        "option-keep-negative",
        "",
        None,
        "'-1' is not a syscall name or number",
        "--keep-syscall",
        {"keep": ["-1"]},
    ),
    Case("option-boots-zero", "", None, "must be at least 1, not 0", "--boots", {"boots": 0}),
    Case(
        "option-icount-boots-zero",
        "",
        None,
        "must be at least 1, not 0",
        "--icount-boots",
        {"icount_boots": 0},
    ),
    Case(
        "option-target-missing",
        "",
        None,
        "file not found",
        "nosuch-target.yaml",
        {"target": "nosuch-target.yaml"},
    ),
    Case("option-target-folder", "", None, "is a folder", "configs", {"target": "."}),
]

FRAGMENTS = [
    Case(
        "fragment-unknown-symbol",
        "kernel/size.config",
        sub("\n", "\nCONFIG_NO_SUCH_THING=y\n"),
        "CONFIG_NO_SUCH_THING is not a Kconfig symbol",
        "size.config",
    ),
    Case(
        "fragment-not-kconfig",
        "kernel/boot.config",
        sub("\n", "\nPRINTK_TIME=y\n"),
        "not a Kconfig line: 'PRINTK_TIME=y'",
        "boot.config",
    ),
    Case(
        "fragment-cycle-typo",
        "kernel/trim.config",
        sub("\n", "\nCONFIG_IO_URNG=n\n"),
        "CONFIG_IO_URNG is not a Kconfig symbol",
        "trim.config",
    ),
    Case(
        "fragment-empty-value",
        "kernel/boot.config",
        sub("CONFIG_PRINTK_TIME=y", "CONFIG_PRINTK_TIME="),
        "boot.config:6: CONFIG_PRINTK_TIME has no value",
        "boot.config",
    ),
    Case(
        "fragment-upper-case-value",
        "kernel/boot.config",
        sub("CONFIG_PRINTK_TIME=y", "CONFIG_PRINTK_TIME=Y"),
        "CONFIG_PRINTK_TIME=Y: a value is y, n, m",
        "boot.config",
    ),
    Case(
        "fragment-trailing-comment",
        "kernel/boot.config",
        sub("CONFIG_PRINTK_TIME=y", "CONFIG_PRINTK_TIME=y # keep"),
        "nothing after it",
        "boot.config",
    ),
    Case(
        "fragment-set-twice",
        "kernel/boot.config",
        sub("CONFIG_PRINTK_TIME=y", "CONFIG_PRINTK_TIME=y\nCONFIG_PRINTK_TIME=n"),
        "boot.config:7: CONFIG_PRINTK_TIME is set again \\(first on line 6\\)",
        "boot.config",
    ),
    Case(
        "fragment-unset-without-space",
        "kernel/boot.config",
        sub("CONFIG_PRINTK_TIME=y", "CONFIG_PRINTK_TIME=y\n#CONFIG_MEMTEST is not set"),
        "'#CONFIG_MEMTEST is not set' is read as a comment",
        "boot.config",
    ),
    Case(
        "fragment-not-utf8", "kernel/boot.config", b'CONFIG_X="\xe9"\n', "not UTF-8", "boot.config"
    ),
    Case(
        "busybox-config-garbage",
        "userspace/busybox.config",
        sub("CONFIG_NOMMU=y", "CONFIG NOMMU y"),
        "not a Kconfig line",
        "busybox.config",
    ),
    Case(
        "trim-rules-bad-option",
        "rules/trim.yaml",
        sub("option: ", "option: CONFIG_"),
        "write it without CONFIG_",
        "trim.yaml",
    ),
    Case(
        "initramfs-relative-path",
        "userspace/initramfs.yaml",
        sub("dirs: [/bin", "dirs: [bin"),
        "dirs entry 'bin': write an absolute path",
        "initramfs.yaml",
    ),
]

SEARCH = [
    Case(
        "search-unknown-key",
        "cycles.yaml",
        sub("      from: syscall-prune\n", "      from: syscall-prune\n      trails: 32\n"),
        "unknown key 'cycles.size_search.search.trails'",
        "cycles.yaml",
    ),
    Case(
        "search-from-unknown",
        "cycles.yaml",
        sub("    search:\n      from: syscall-prune", "    search:\n      from: syscal-prune"),
        "search from 'syscal-prune', which is not one of its candidates",
        "cycles.yaml",
    ),
    Case(
        "search-trials-zero",
        "cycles.yaml",
        sub("      from: syscall-prune\n", "      from: syscall-prune\n      trials: 0\n"),
        "'cycles.size_search.search.trials' must be at least 1",
        "cycles.yaml",
    ),
    Case(
        "search-knobs-missing",
        "cycles.yaml",
        sub(
            "      from: syscall-prune\n",
            "      from: syscall-prune\n      knobs: configs/rules/knobz.yaml\n",
        ),
        "knobs file .*knobz.yaml not found",
        "cycles.yaml",
    ),
    Case(
        "search-derived-without-section",
        "cycles.yaml",
        sub(
            "    search:\n      from: syscall-prune\n",
            "    serch_off:\n      from: syscall-prune\n",
        ),
        "unknown key 'cycles.size_search.serch_off'",
        "cycles.yaml",
    ),
    Case(
        "knobs-malformed",
        "rules/knobs.yaml",
        sub("knobs:\n", "knobs:\n\t- x\n"),
        "malformed YAML",
        "knobs.yaml",
    ),
    Case(
        "knobs-unknown-option",
        "rules/knobs.yaml",
        sub("{KALLSYMS: n}", "{KALLSYM: n}"),
        "KALLSYM is no Kconfig option of this kernel",
        "knobs.yaml",
    ),
    Case(
        "knobs-boolean-value",
        "rules/knobs.yaml",
        sub("{KALLSYMS: n}", "{KALLSYMS: no}"),
        "write y or n",
        "knobs.yaml",
    ),
    Case(
        "knobs-config-prefix",
        "rules/knobs.yaml",
        sub("{KALLSYMS: n}", "{CONFIG_KALLSYMS: n}"),
        "without CONFIG_",
        "knobs.yaml",
    ),
]

CASES = TARGET + CYCLES + WORKLOAD + TRACE + KEEP + OPTIONS + FRAGMENTS + SEARCH


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def table_cache(tmp_path_factory):
    """The kernel's syscall table and Kconfig symbols, found once for the whole corpus."""
    cache = tmp_path_factory.mktemp("cache")
    if missing_tool("kernel"):
        return cache  # the cases that need the kernel's facts are skipped
    target = read_target(ROOT / "configs" / "boards" / "an385.yaml")
    facts = source_facts(target.kernel_source, target.kernel_patches)
    # The dfilter names the corpus uses, looked up once (each answer is cached).
    source_mentions(target.kernel_source, target.kernel_patches, {"vector_swi", "vector_swy"})
    folder = (
        cache
        / "kernel-facts"
        / source_fingerprint(target.kernel_source, target.kernel_patches).short
    )
    shutil.copytree(facts.syscall_table.parent, folder)
    return cache


@pytest.fixture
def configs(tmp_path, monkeypatch, table_cache):
    """A copy of configs/ whose files point at each other; an empty work folder."""
    copy = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", copy)
    shutil.copy(copy / "boards" / "an385.yaml", copy / "target.yaml")
    for name in ("target.yaml", "cycles.yaml"):
        text = (copy / name).read_text().replace("configs/", f"{copy}/")
        (copy / name).write_text(text)
    monkeypatch.setenv("KQUAL_WORK", str(tmp_path / "work"))
    monkeypatch.setenv("KQUAL_CACHE", str(table_cache))
    return copy


def apply(case: Case, configs: Path) -> None:
    if not case.file:
        return
    path = configs / case.file
    if isinstance(case.change, bytes):
        path.write_bytes(case.change)
    elif isinstance(case.change, tuple):
        old, new = case.change
        text = path.read_text()
        assert old in text, f"case {case.id}: {old!r} not in {case.file}"
        path.write_text(text.replace(old, new, 1))
    else:
        path.write_text(str(case.change))


def settings_for(case: Case, configs: Path):
    opts = case.options or {}
    workload = configs / ("workload.txt" if case.file == "workload.txt" else "workload.yaml")
    if "workload" in opts:
        workload = configs / opts["workload"]
    target = configs / opts.get("target", "target.yaml")
    return read_settings(
        target,
        workload,
        opts.get("keep", []),
        opts.get("boots"),
        opts.get("icount_boots", 1),
        configs=configs,
    )


def test_the_unchanged_copy_loads(configs, pytestconfig):
    s = settings_for(Case("ok", "", None, "", ""), configs)
    assert "syscall_prune" in s.cycles and s.workload.steps
    require_tools(pytestconfig, "qemu", "cross", "kernel")
    check_settings(s)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, configs, tmp_path, table_cache, pytestconfig):
    cached_before = sorted(table_cache.rglob("*"))
    apply(case, configs)
    with pytest.raises(KqualError) as info:
        settings = settings_for(case, configs)
        require_tools(pytestconfig, "qemu", "cross", "kernel")  # files alone let it pass
        check_settings(settings)
    message = str(info.value)
    assert re.search(case.message, message), message
    assert case.where in message, f"the error does not name {case.where}: {message}"
    if isinstance(info.value, ConfigError) and case.file:
        assert case.file in str(info.value.path)
    # nothing built, nothing cached
    work = tmp_path / "work"
    assert not work.exists() or not any(
        (work / d).exists() for d in ("build", "userspace", "src", "traces", "cache")
    )
    assert sorted(table_cache.rglob("*")) == cached_before


def pytest_run(
    tmp_path: Path, *args: str, cwd: Path = ROOT, collect: bool = True, **more_env: str
) -> subprocess.CompletedProcess:
    """pytest in `cwd` (--collect-only -q unless `collect` is false), its work folder
    under tmp_path."""
    env = dict(os.environ, KQUAL_WORK=str(tmp_path / "work"), PYTHONDONTWRITEBYTECODE="1")
    env |= more_env
    mode = ["--collect-only", "-q"] if collect else []
    return subprocess.run(
        [sys.executable, "-m", "pytest", *mode, "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["--boots", "0"], "argument --boots: must be at least 1, not 0"),
        (["--icount-boots", "x"], "argument --icount-boots: 'x' is not a whole number"),
        pytest.param(
            ["--keep-syscall", "opne"],
            "'opne' is not a syscall name or number",
            marks=pytest.mark.needs("qemu", "cross", "kernel"),
        ),
        (["--workload", "nosuch.txt"], "nosuch.txt: workload file not found"),
        (["--search-budget", "0"], "'0': give trials (12), minutes (30m) or both (12,30m)"),
        (["--search-budget", "ten"], "'ten': give trials (12), minutes (30m) or both (12,30m)"),
        (["--search-budget=-5m"], "'-5m': give trials (12), minutes (30m) or both (12,30m)"),
        (["--search-budget", "nanm"], "'nanm': give trials (12), minutes (30m) or both"),
        (["--search-budget", "infm"], "'infm': give trials (12), minutes (30m) or both"),
        (["--search-budget", "12,13"], "'12,13': give trials (12), minutes (30m) or both"),
        (["--search-budget", "5m,6m"], "'5m,6m': give trials (12), minutes (30m) or both"),
        (["--search-budget", "99999999"], "'99999999': at most 1000 trials"),
        (["--target", ""], "--target: is empty: name a target"),
        (["--target", "nosuch.yaml"], "--target: target file 'nosuch.yaml' not found"),
    ],
)
def test_pytest_says_usage_error_without_traceback(tmp_path, args, message):
    out = pytest_run(tmp_path, *args)
    assert out.returncode == 4, out.stdout + out.stderr
    assert message in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert "INTERNALERROR" not in out.stdout + out.stderr


def test_a_bad_target_file_is_a_usage_error(tmp_path):
    bad = tmp_path / "target.yaml"
    text = (ROOT / "configs" / "boards" / "an385.yaml").read_text()
    bad.write_text(text.replace("boots: 3", "boots: -2"))
    out = pytest_run(tmp_path, "--target", str(bad), "tests/test_workload.py")
    assert out.returncode == 4
    assert f"{bad}:" in out.stderr and "'boot.boots' must be at least 1" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.parametrize("where", ["KQUAL_WORK", "KQUAL_RESULTS", "KQUAL_CACHE"])
def test_an_output_folder_set_empty_or_unmakeable_is_a_usage_error(tmp_path, where):
    """Empty would mean the current folder; /proc cannot hold one: said at start."""
    out = pytest_run(tmp_path, "tests/test_workload.py", **{where: ""})
    assert out.returncode == 4 and f"{where} is set but empty" in out.stderr, out.stderr
    out = pytest_run(tmp_path, "tests/test_workload.py", **{where: "/proc/kqual"})
    assert out.returncode == 4 and f"{where}: cannot create /proc/kqual" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_a_missing_cycles_file_with_cycle_tests_present_is_a_usage_error(tmp_path):
    """A project whose cycle tests are there but whose configs/cycles.yaml is not:
    else the plugin would step aside and the cycle tests fail on missing fixtures."""
    project = tmp_path / "project"
    (project / "test_cycles").mkdir(parents=True)
    (project / "test_cycles" / "test_x.py").write_text("def test_x():\n    pass\n")
    (project / "pytest.ini").write_text("[pytest]\nkqual_cycle_tests = test_cycles\n")
    out = pytest_run(tmp_path, cwd=project)
    assert out.returncode == 4, out.stdout + out.stderr
    assert "configs/cycles.yaml: file not found" in out.stderr and "test_cycles" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.parametrize("where", ["KQUAL_WORK", "KQUAL_RESULTS", "KQUAL_CACHE", "--profile-cache"])
def test_an_output_folder_that_is_a_file_is_a_usage_error(tmp_path, where):
    """Found at start, not after the baseline's build (or as an INTERNALERROR)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    folder = blocker / "below" if where == "KQUAL_RESULTS" else blocker
    if where.startswith("--"):
        out = pytest_run(tmp_path, f"{where}={folder}", "tests/test_workload.py")
    else:
        out = pytest_run(tmp_path, "tests/test_workload.py", **{where: str(folder)})
    assert out.returncode == 4, out.stdout + out.stderr
    assert f"{where}: {folder} cannot be a folder, {blocker} is a file" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_a_k_that_selects_nothing_names_the_cycles(tmp_path):
    """pytest exits 5 (nothing ran); the line after says what -k could have meant."""
    # No cycle test among them: no tool needed.
    out = pytest_run(tmp_path, "-k", "syscal_prune", "tests/test_workload.py", collect=False)
    assert out.returncode == 5, out.stdout + out.stderr
    assert "kqual: -k 'syscal_prune' selects no test; the cycles are: syscall_prune" in out.stdout


@pytest.mark.needs("qemu", "cross", "kernel")
def test_a_knob_the_older_kernel_lacks_stops_only_the_cycle_that_reads_it(tmp_path):
    """On 6.1, SLUB_TINY (6.2) is no option: size_search is refused by name, while
    syscall_prune, which reads no knob, collects."""
    if not Path("/usr/src/linux-source-6.1.tar.xz").is_file():
        pytest.skip("linux-source-6.1 is not installed")
    common = ["-o", "kqual_require_tools=true", "--target", "an385-linux-6.1", "test_cycles"]
    shared = {"KQUAL_CACHE": str(cache_dir())}  # the 6.1 tree's facts, found once
    out = pytest_run(tmp_path, *common, "-k", "size_search", **shared)
    assert out.returncode == 4 and "knobs.yaml:" in out.stderr and "SLUB_TINY" in out.stderr
    out = pytest_run(tmp_path, *common, "-k", "syscall_prune", **shared)
    assert out.returncode == 0, out.stdout + out.stderr
