"""``mcdlc explain CODE``: the title, the origin and the docs of a code."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcdl.diagnostics import CODES
from mcdl.tools import explain

from .helpers import ROOT, run

DOCS = ROOT / "docs" / "diagnostics.md"


def test_explain_prints_the_title_origin_and_docs_section(capsys) -> None:
    if not DOCS.is_file():
        pytest.skip("docs/diagnostics.md is not written yet")

    status = run(["explain", "E0201"])

    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("E0201: undefined name\n")
    assert "Reported by mcdl.passes.resolve (names)." in out
    assert explain.sections(DOCS.read_text())["E0201"] in out
    assert "## E0202" not in out


def test_codes_may_be_written_in_lower_case_or_without_the_zeros(capsys) -> None:
    assert run(["explain", "e201"]) == 0
    assert capsys.readouterr().out.startswith("E0201: undefined name\n")
    assert explain.normalise("201") == "E0201"
    assert explain.normalise(" E0903 ") == "E0903"


def test_an_unknown_code_is_a_usage_error_with_a_suggestion(capsys) -> None:
    status = run(["explain", "E0199"])

    assert status == 2
    assert "unknown diagnostic code 'E0199'; did you mean E0107?" in (
        capsys.readouterr().err
    )


def test_a_word_is_an_unknown_code_without_a_suggestion(capsys) -> None:
    assert run(["explain", "syntax"]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_explain_without_a_code_is_a_usage_error() -> None:
    assert run(["explain"]) == 2


def test_list_prints_every_code_with_its_title(capsys) -> None:
    assert run(["explain", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines == [f"{code}  {title}" for code, title in CODES.items()]


def test_every_code_has_a_stage_from_the_diagnostics_table() -> None:
    stages = explain.stages()

    for code in CODES:
        assert code[:3] + "xx" in stages, code


def test_without_the_docs_page_explain_still_gives_title_and_origin(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(explain, "_CANDIDATES", (tmp_path / "missing.md",))

    text = explain.explain("E0702").text()

    assert text.startswith("E0702: circular import\n")
    assert "mcdl.frontend.imports" in text
    assert "does not include that page" in text


def test_sections_are_split_at_code_headings() -> None:
    page = "# D\n\n## E0101: a\n\nbody a\n\n## E0102: b\n\nbody b\n## Other\n"

    assert explain.sections(page) == {"E0101": "body a", "E0102": "body b"}
