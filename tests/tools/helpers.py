"""Paths and small helpers shared by the tests of the language tools."""

from __future__ import annotations

import argparse
from pathlib import Path

from mcdl import cli
from mcdl.tools.commands import register

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").rglob("*.mcdl"))
STDLIB = sorted((ROOT / "mcdl" / "stdlib").rglob("*.mcdl"))
#: Every spec under tests/ (the diagnostics fixtures and any others).
TEST_SPECS = sorted((ROOT / "tests").rglob("*.mcdl"))


def repository_specs() -> list[Path]:
    """Every ``.mcdl`` file of the repository that is not a test fixture.

    The fixtures under ``tests/`` are left out: their layout is part of what
    they test (their ``// expect:`` lines give lines and columns).
    """
    skip = {".git", ".venv", "build", "dist", "tests", "node_modules"}
    found = []
    for path in sorted(ROOT.rglob("*.mcdl")):
        parts = path.relative_to(ROOT).parts
        if not skip.intersection(parts):
            found.append(path)
    return found


def parser() -> argparse.ArgumentParser:
    """``mcdlc``'s parser with the tools' subcommands, as cli.py will have it."""
    built = cli.build_parser()
    for action in built._actions:
        if isinstance(action, argparse._SubParsersAction):
            if "fmt" not in action.choices:
                register(action)
    return built


def run(argv: list[str]) -> int:
    """Run ``mcdlc argv`` with the tools' subcommands and return its exit code."""
    args = parser().parse_args(argv)
    return args.run(args)
