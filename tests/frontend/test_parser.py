"""The parser: every syntax error of a file in one run, each at its place."""

from __future__ import annotations

from mcdl.frontend.parser import MAX_ERRORS, parse
from mcdl.source import SourceFile


def errors(text: str) -> list[tuple[str, int, int]]:
    tree, diagnostics = parse(SourceFile(name="test.mcdl", text=text))
    assert (tree is None) == bool(diagnostics)
    return [(d.code, d.span.line, d.span.column) for d in diagnostics]


def test_a_valid_file_parses_without_diagnostics() -> None:
    assert errors("const a = 1\nnetwork n { input x[2] }\n") == []


def test_one_run_reports_the_error_of_each_broken_statement() -> None:
    text = "const a = * 2\nconst b = 2 2\nconst c = (1\nconst d = 4\n"

    assert errors(text) == [
        ("E0101", 1, 11),
        ("E0101", 2, 13),
        ("E0101", 4, 1),
    ]


def test_errors_in_several_statements_of_one_block_are_all_reported() -> None:
    text = (
        "network n {\n"
        "    input x[1] ]\n"
        "    layer l { p: N[1] ) }\n"
        "    project x -> l.p.soma as W {{ }\n"
        "}\n"
    )

    assert errors(text) == [
        ("E0101", 2, 16),
        ("E0101", 3, 23),
        ("E0101", 4, 33),
    ]


def test_a_second_error_on_the_same_line_is_not_reported() -> None:
    assert errors("const a = 1 ) )\nconst b = 2 ] ]\n") == [
        ("E0101", 1, 13),
        ("E0101", 2, 13),
    ]


def test_at_most_twenty_syntax_errors_are_reported() -> None:
    text = "".join(f"const c{i:02} = 1 )\n" for i in range(2 * MAX_ERRORS))

    reported = errors(text)

    assert len(reported) == MAX_ERRORS == 20
    assert reported[-1] == ("E0101", 20, 15)


def test_an_unexpected_character_is_e0101_at_the_character() -> None:
    tree, (diagnostic,) = parse(SourceFile(name="t.mcdl", text="const a = 1 $\n"))

    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == (
        "E0101",
        1,
        13,
    )
    assert diagnostic.message == "unexpected character '$'"


def test_the_hint_lists_what_the_grammar_expected() -> None:
    _, (diagnostic,) = parse(SourceFile(name="t.mcdl", text="const a 1\n"))

    assert diagnostic.hint == "expected '='"


def test_the_end_of_the_file_inside_a_block_is_e0102_at_the_end() -> None:
    assert errors("network n {\n    input x[1]\n") == [("E0102", 2, 15)]


def test_keywords_are_names_where_the_grammar_expects_a_name() -> None:
    assert errors("network input { input input[1] }\n") == []


def test_comments_are_ignored() -> None:
    text = "// a line comment\n/* a block\n   comment */ const a = 1 // trailing\n"

    assert errors(text) == []


def test_nesting_up_to_the_limit_parses_and_deeper_is_e0104() -> None:
    # The file, the constant and the number are three of the 100 levels.
    deepest = "const c = " + "-" * 97 + "1\n"
    too_deep = "const c = " + "-" * 98 + "1\n"

    assert errors(deepest) == []
    assert [code for code, _, _ in errors(too_deep)] == ["E0104"]
