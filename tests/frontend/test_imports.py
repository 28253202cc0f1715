"""Imports: the standard library, files next to the importer, cycles."""

from __future__ import annotations

from pathlib import Path

from mcdl.compiler import compile_file
from mcdl.frontend import imports


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def found(loaded) -> set[tuple[str, str, int, int]]:
    return {
        (d.code, Path(d.span.path).name, d.span.line, d.span.column)
        for d in loaded.diagnostics
    }


def test_std_names_the_standard_library() -> None:
    loaded = imports.load_text('import "std/microcircuit.mcdl"\n', "t.mcdl")

    assert loaded.diagnostics == []
    assert "std/microcircuit.mcdl" in loaded.sources
    assert loaded.modules[-1] is loaded.main


def test_a_relative_import_is_relative_to_the_importing_file(tmp_path) -> None:
    write(tmp_path, "lib/types.mcdl", 'import "more.mcdl"\n')
    write(tmp_path, "lib/more.mcdl", "const g = 1\n")
    main = write(tmp_path, "main.mcdl", 'import "lib/types.mcdl"\n')

    loaded = imports.load_file(main)

    assert loaded.diagnostics == []
    assert [m.consts for m in loaded.modules][0][0].name.text == "g"


def test_a_file_imported_twice_is_loaded_once_and_is_no_cycle(tmp_path) -> None:
    write(tmp_path, "shared.mcdl", "const g = 1\n")
    write(tmp_path, "a.mcdl", 'import "shared.mcdl"\n')
    write(tmp_path, "b.mcdl", 'import "shared.mcdl"\n')
    main = write(tmp_path, "main.mcdl", 'import "a.mcdl"\nimport "b.mcdl"\n')

    loaded = imports.load_file(main)

    assert loaded.diagnostics == []
    assert len(loaded.modules) == 4


def test_a_missing_import_is_e0701_at_the_import(tmp_path) -> None:
    main = write(tmp_path, "main.mcdl", 'const a = 1\nimport "nowhere.mcdl"\n')

    assert found(imports.load_file(main)) == {("E0701", "main.mcdl", 2, 1)}


def test_a_spec_that_cannot_be_read_is_e0701(tmp_path) -> None:
    result = compile_file(tmp_path / "absent.mcdl")

    assert {(d.code, d.span.line, d.span.column) for d in result.diagnostics} == {
        ("E0701", 1, 1)
    }


def test_a_file_importing_itself_is_e0702(tmp_path) -> None:
    main = write(tmp_path, "main.mcdl", 'import "main.mcdl"\n')

    assert found(imports.load_file(main)) == {("E0702", "main.mcdl", 1, 1)}


def test_a_cycle_is_reported_at_the_import_that_closes_it(tmp_path) -> None:
    write(tmp_path, "b.mcdl", 'const g = 1\nimport "a.mcdl"\n')
    main = write(tmp_path, "a.mcdl", 'import "b.mcdl"\n')

    assert found(imports.load_file(main)) == {("E0702", "b.mcdl", 2, 1)}


def test_syntax_errors_of_an_imported_file_are_reported_in_it(tmp_path) -> None:
    write(tmp_path, "lib.mcdl", "const g = = 1\n")
    main = write(tmp_path, "main.mcdl", 'import "lib.mcdl"\nnetwork n {}\n')

    assert found(imports.load_file(main)) == {("E0101", "lib.mcdl", 1, 11)}
