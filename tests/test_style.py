"""The repository passes ``ruff check`` and ``ruff format --check``.

This is the one place the style checks run (``make test`` and CI run them
through pytest). The ruff version is pinned in pyproject.toml's ``test`` extra.
Fix failures with ``.venv/bin/ruff check --fix .`` and ``.venv/bin/ruff format .``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "args",
    [["check", "."], ["format", "--check", "."]],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff(args: list[str]) -> None:
    """``ruff <args>`` on the whole repository exits 0."""
    cmd = [sys.executable, "-m", "ruff", *args]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"`ruff {' '.join(args)}` failed (exit {proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}",
            pytrace=False,
        )
