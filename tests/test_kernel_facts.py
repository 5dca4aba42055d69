"""The kernel facts cache (syscall.tbl and the Kconfig symbols, read before any
build): cold starts at once fill it once, and every one of them reads it."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from harness.kernel.source import FACT_FILES, source_facts
from harness.settings.target import default_target_path, read_target

pytestmark = pytest.mark.needs("kernel")


def _facts(cache: str) -> tuple[int, int]:
    os.environ["KQUAL_CACHE"] = cache
    os.environ["KQUAL_WORK"] = os.path.join(cache, "work")  # no prepared tree: the tarball
    target = read_target(default_target_path())
    facts = source_facts(target.kernel_source, target.kernel_patches)
    return len(facts.symbols), len(facts.syscall_table.read_text().splitlines())


def test_cold_starts_at_once_fill_the_facts_once(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_facts, [str(tmp_path)] * 4)
    assert len(set(results)) == 1 and results[0][0] > 10_000, results
    left = sorted(p.name for p in (tmp_path / "kernel-facts").iterdir())
    (entry,) = [n for n in left if not n.endswith(".lock")]
    assert len(left) == 2, left  # the entry and its lock: no half-written folder
    names = {p.name for p in (tmp_path / "kernel-facts" / entry).iterdir()}
    assert names == set(FACT_FILES)
