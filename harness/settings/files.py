"""Where a kqual project keeps its inputs, by kind: the one place for these paths.

configs/boards/ (one file per board), configs/kernel/ (Kconfig fragments),
configs/userspace/ (BusyBox and the initramfs), configs/rules/ (trim rules,
the syscall keep list, search knobs, trace selectors), and the run's own
configs/cycles.yaml and configs/workload.yaml.
"""

from __future__ import annotations

from ..core.paths import ROOT

CONFIGS = ROOT / "configs"
BOARDS = CONFIGS / "boards"
RULES = CONFIGS / "rules"
CYCLES = CONFIGS / "cycles.yaml"
WORKLOAD = CONFIGS / "workload.yaml"
# The rule files a cycle reads unless it names others, by name in a rules folder.
TRIM_RULES = "trim.yaml"
SYSCALL_KEEP = "syscall_keep.yaml"
KNOBS = "knobs.yaml"
TRACE_SELECTORS = RULES / "trace.yaml"
