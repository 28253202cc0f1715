"""Every diagnostic code: a fixture that triggers it, at the expected place.

Each ``fixtures/E0xxx.mcdl`` is the smallest spec that makes the compiler
report code ``E0xxx``. It opens with one or more lines

    // expect: E0xxx at LINE:COLUMN
    // expect: E0xxx at OTHER_FILE.mcdl:LINE:COLUMN

and the compiler must report exactly those (code, file, line, column), no
more and no fewer. A location in another file is for diagnostics that land in
an imported helper (``E07xx_*.mcdl``). The codes whose trigger is a whole
file's bytes, E0103 (too large) and E0106 (not UTF-8), are built here instead
of being committed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mcdl import cli
from mcdl.compiler import compile_file, compile_text
from mcdl.diagnostics import CODES
from mcdl.frontend.parser import MAX_BYTES
from mcdl.init import initial_weights
from mcdl.passes.lower_loihi import lower_loihi

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DOCS = ROOT / "docs" / "diagnostics.md"

#: Codes tested by files this module writes, not by committed fixtures.
GENERATED = {"E0103", "E0106"}

#: The codes of the loihi target's lowering: their fixtures are valid specs
#: that ``lower_loihi`` refuses.
LOWERING = "E10"

_EXPECT = re.compile(r"//\s*expect:\s*(E\d{4}) at (?:(\S+\.mcdl):)?(\d+):(\d+)\s*$")

Location = tuple[str, str, int, int]


def fixture_paths() -> list[Path]:
    """Every fixture: files named after a code, not the ``E07xx_*`` helpers."""
    return sorted(
        p for p in FIXTURES.glob("E*.mcdl") if re.fullmatch(r"E\d{4}", p.stem)
    )


def expectations(path: Path) -> set[Location]:
    """The (code, file name, line, column) that ``path``'s header promises."""
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _EXPECT.match(line)
        if match is None:
            break
        code, file, row, column = match.groups()
        found.add((code, file or path.name, int(row), int(column)))
    return found


def reported(diagnostics) -> set[Location]:
    return {
        (d.code, Path(d.span.path).name, d.span.line, d.span.column)
        for d in diagnostics
    }


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.stem)
def test_fixture_reports_exactly_its_expected_diagnostics(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} has no '// expect:' line"
    assert all(code == path.stem for code, *_ in expected)

    result = compile_file(path)
    if path.stem.startswith(LOWERING):
        assert result.ok, [d.message for d in result.diagnostics]
        weights = initial_weights(result.network, path.parent)
        plan, diagnostics = lower_loihi(result.network, weights)
        assert reported(diagnostics) == expected
        assert plan is None
        return

    assert reported(result.diagnostics) == expected
    assert result.network is None


def test_a_file_larger_than_the_limit_is_e0103(tmp_path: Path) -> None:
    path = tmp_path / "huge.mcdl"
    path.write_text("// " + "x" * MAX_BYTES + "\n", encoding="utf-8")

    result = compile_file(path)

    assert reported(result.diagnostics) == {("E0103", "huge.mcdl", 1, 1)}


def test_text_larger_than_the_limit_is_e0103() -> None:
    text = "network n {}\n" + "// " + "x" * MAX_BYTES + "\n"

    result = compile_text(text, name="huge.mcdl")

    assert reported(result.diagnostics) == {("E0103", "huge.mcdl", 1, 1)}


def test_invalid_utf8_is_e0106_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.mcdl"
    path.write_bytes(b"network n {}\n// caf\xe9\n")

    result = compile_file(path)

    assert reported(result.diagnostics) == {("E0106", "latin1.mcdl", 2, 7)}


def test_a_nul_character_is_e0106(tmp_path: Path) -> None:
    path = tmp_path / "nul.mcdl"
    path.write_bytes(b"network n {\x00}\n")

    result = compile_file(path)

    assert reported(result.diagnostics) == {("E0106", "nul.mcdl", 1, 12)}


def test_every_code_has_a_fixture() -> None:
    with_fixture = {p.stem for p in fixture_paths()}

    assert with_fixture - set(CODES) == set(), "fixtures for unregistered codes"
    assert set(CODES) - with_fixture == GENERATED


def test_every_code_is_documented_with_its_title() -> None:
    headings = dict(
        re.findall(r"^## (E\d{4}): (.+)$", DOCS.read_text(encoding="utf-8"), re.M)
    )

    assert set(headings) == set(CODES)
    for code, title in CODES.items():
        assert headings[code] == title, code


# -- The command line ---------------------------------------------------------


def rendered_blocks(stderr: str) -> dict[Location, list[str]]:
    """Each rendered diagnostic of ``stderr`` by location, with its lines."""
    head = re.compile(r"^(.+\.mcdl):(\d+):(\d+): error\[(E\d{4})\]: .+$")
    blocks: dict[Location, list[str]] = {}
    current: list[str] = []
    for line in stderr.splitlines():
        match = head.match(line)
        if match:
            path, row, column, code = match.groups()
            current = blocks.setdefault(
                (code, Path(path).name, int(row), int(column)), []
            )
        current.append(line)
    return blocks


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.stem)
def test_cli_prints_location_source_line_and_caret(path: Path, capsys) -> None:
    target = "loihi" if path.stem.startswith(LOWERING) else "cpu"
    status = cli.main(["check", "--target", target, str(path)])

    stderr = capsys.readouterr().err
    assert status == cli.EXIT_SPEC
    assert "Traceback" not in stderr
    blocks = rendered_blocks(stderr)
    assert set(blocks) == expectations(path)
    for (_, _, row, column), lines in blocks.items():
        _, source, caret, *_ = lines
        assert re.match(rf"^ *{row} \| ", source)
        gutter = source.index("| ") + 2
        assert re.match(r"^ *\^+$", caret)
        assert caret.index("^") == gutter + column - 1


def test_mcdlc_check_on_all_fixtures_exits_1_without_traceback() -> None:
    paths = [str(p) for p in fixture_paths()]

    proc = subprocess.run(
        [sys.executable, "-m", "mcdl.cli", "check", "--target", "loihi", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert proc.returncode == cli.EXIT_SPEC
    assert "Traceback" not in proc.stderr
    blocks = rendered_blocks(proc.stderr)
    for path in fixture_paths():
        assert expectations(path) <= set(blocks), path.name
