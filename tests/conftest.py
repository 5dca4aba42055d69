from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def write(tmp_path):
    """Write a dedented text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
        return p

    return _write


@pytest.fixture
def target_copy(tmp_path):
    """A copy of the real target file, inside a copy of configs/, to edit."""
    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    text = (configs / "boards" / "an385.yaml").read_text().replace("configs/", f"{configs}/")
    (configs / "target.yaml").write_text(text)
    return configs / "target.yaml"


@pytest.fixture(autouse=True)
def said():
    """Lines harness.core.progress.say() printed during the test (kept off the terminal)."""
    from harness.core import progress

    lines: list[str] = []
    previous = progress._writer
    progress.set_writer(lines.append)
    yield lines
    progress.set_writer(previous)
