"""``mcdlc fmt``: the canonical layout, comments kept, meaning unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcdl.compiler import compile_file, compile_text
from mcdl.tools.formatter import WIDTH, format_file, format_text, without_spans

from .helpers import SPECS, STDLIB, TEST_SPECS, repository_specs, run


def fmt(text: str) -> str:
    result = format_text(text, "test.mcdl")
    assert result.diagnostics == []
    return result.text


# -- The layout -----------------------------------------------------------------


def test_statements_go_one_per_line_with_four_spaces_per_block() -> None:
    text = "network n { dt = 0.1 ms seed = 1 layer l { p: N[2] } }"

    assert fmt(text) == (
        "network n {\n"
        "    dt = 0.1 ms\n"
        "    seed = 1\n"
        "    layer l {\n"
        "        p: N[2]\n"
        "    }\n"
        "}\n"
    )


def test_spaces_around_operators_and_none_inside_brackets() -> None:
    text = "const a=-b*( c+d )**-2/f( x ,k=1)\nfunction g(u,v=2)=max(u,-v)"

    assert fmt(text) == (
        "const a = -b * (c + d) ** -2 / f(x, k = 1)\n"
        "function g(u, v = 2) = max(u, -v)\n"
    )


def test_a_short_compartment_stays_on_one_line_with_two_spaces_between() -> None:
    text = (
        "neuron N {\ncompartment soma {\nleak = 0.1\nnoise = 0.1\n}\n"
        "rate = relu(soma)\n}"
    )

    assert fmt(text) == (
        "neuron N {\n"
        "    compartment soma { leak = 0.1  noise = 0.1 }\n"
        "    rate = relu(soma)\n"
        "}\n"
    )


def test_a_long_compartment_and_one_with_a_comment_get_one_line_per_setting() -> None:
    long = " ".join(f"leak = {n}" for n in range(12))
    text = (
        f"neuron N {{ compartment a {{ {long} }} compartment b {{ leak = 1 // g\n}} }}"
    )

    formatted = fmt(text)

    assert "    compartment a {\n        leak = 0\n" in formatted
    assert "    compartment b {\n        leak = 1  // g\n    }\n" in formatted


def test_empty_blocks_are_two_braces() -> None:
    assert fmt("network n {\n\n}") == "network n {}\n"
    assert fmt("network n { project a -> b as W { } }") == (
        "network n {\n    project a -> b as W {}\n}\n"
    )


def test_semicolons_are_dropped() -> None:
    assert fmt("const a = 1; const b = 2;;") == "const a = 1\nconst b = 2\n"


def test_a_semicolon_that_keeps_a_setting_named_s_from_a_unit_stays() -> None:
    text = "neuron N { compartment soma { leak = 1; s = 2 } rate = relu(soma) }"

    formatted = fmt(text)

    assert "leak = 1;  s = 2" in formatted
    assert fmt(formatted) == formatted


def test_a_long_list_is_balanced_over_the_fewest_lines() -> None:
    params = ", ".join(f"p{n} = {n}.0" for n in range(14))
    text = f"neuron Long({params}) {{ compartment soma {{}} rate = relu(soma) }}"

    first, second, *_ = fmt(text).splitlines()

    assert first.startswith("neuron Long(p0 = 0.0,")
    assert second.startswith(" " * len("neuron Long(") + "p")
    assert max(len(first), len(second)) <= WIDTH
    assert abs(first.count(",") - 1 - second.count(",")) <= 1


def test_an_inner_list_breaks_only_when_its_item_is_too_long() -> None:
    args = ", ".join(f"argument_{n}" for n in range(6))
    text = f"const c = f(g({args}), h({args}))"

    lines = fmt(text).splitlines()

    assert lines[0] == f"const c = f(g({args}),"
    assert lines[1] == " " * len("const c = f(") + f"h({args}))"


def test_blank_lines_are_kept_but_at_most_one_and_none_inside_braces() -> None:
    text = "network n {\n\n    dt = 0.1 ms\n\n\n\n    seed = 1\n\n}\n"

    assert fmt(text) == "network n {\n    dt = 0.1 ms\n\n    seed = 1\n}\n"


def test_top_level_blocks_get_a_blank_line_around_them() -> None:
    text = (
        "const a = 1\nneuron N { compartment soma {} rate = relu(soma) }\nnetwork n {}"
    )

    assert fmt(text) == (
        "const a = 1\n\n"
        "neuron N {\n    compartment soma {}\n    rate = relu(soma)\n}\n\n"
        "network n {}\n"
    )


def test_a_loihi_block_gets_one_pin_or_setting_per_line() -> None:
    text = (
        "network n { loihi { pin  W_up1 range=2.0 ; pin hidden . pyr.rate "
        "exponent = -5 epoch=10 } }"
    )

    assert fmt(text) == (
        "network n {\n"
        "    loihi {\n"
        "        pin W_up1 range = 2.0\n"
        "        pin hidden.pyr.rate exponent = -5\n"
        "        epoch = 10\n"
        "    }\n"
        "}\n"
    )


# -- Comments -------------------------------------------------------------------


def test_comments_are_kept_where_they_were() -> None:
    text = (
        "// header\n"
        "\n"
        "network n {   // opens\n"
        "  // about dt\n"
        "  dt = 0.1 ms    // step\n"
        "  seed = /* inline */ 1\n"
        "     /* before the end */\n"
        "}\n"
        "// the end\n"
    )

    assert fmt(text) == (
        "// header\n"
        "\n"
        "network n {  // opens\n"
        "    // about dt\n"
        "    dt = 0.1 ms  // step\n"
        "    seed = /* inline */ 1\n"
        "    /* before the end */\n"
        "}\n"
        "// the end\n"
    )


def test_comments_in_a_loihi_block_are_kept() -> None:
    text = (
        "network n {\n"
        "  // the chip's scales\n"
        "  loihi {   pin W range = 2   // weights\n"
        "  /* the epoch */ epoch = 10 }\n"
        "}\n"
    )

    formatted = fmt(text)

    assert formatted == (
        "network n {\n"
        "    // the chip's scales\n"
        "    loihi {\n"
        "        pin W range = 2  // weights\n"
        "        /* the epoch */ epoch = 10\n"
        "    }\n"
        "}\n"
    )
    assert fmt(formatted) == formatted


def test_a_block_comment_keeps_the_shape_of_its_lines() -> None:
    text = (
        "network n {\n        /* first\n         * second\n         */\n"
        "  dt = 1 ms\n}\n"
    )

    assert fmt(text) == (
        "network n {\n    /* first\n     * second\n     */\n    dt = 1 ms\n}\n"
    )


def test_a_line_comment_inside_a_statement_breaks_the_line_there() -> None:
    text = "neuron N(a = 1, // first\nb = 2) { compartment soma {} rate = relu(soma) }"

    assert fmt(text).startswith("neuron N(a = 1,  // first\n         b = 2) {\n")


def test_a_file_of_only_comments_and_an_empty_file() -> None:
    assert fmt("\n\n// one\n\n\n/* two */\n\n") == "// one\n\n/* two */\n"
    assert fmt("") == ""


# -- Safety ---------------------------------------------------------------------


FORMATTABLE = [
    p for p in SPECS + STDLIB + TEST_SPECS if format_file(p).text is not None
]


def _network(result) -> dict:
    data = without_spans(result.network)
    data["source"].pop("sha256")
    return data


@pytest.mark.parametrize("path", FORMATTABLE, ids=lambda p: p.name)
def test_formatting_twice_gives_the_same_bytes(path: Path) -> None:
    once = format_file(path).text

    assert format_text(once, path.name).text == once


@pytest.mark.parametrize("path", FORMATTABLE, ids=lambda p: p.name)
def test_the_formatted_spec_compiles_to_the_same_network(path: Path) -> None:
    before = compile_file(path)
    after = compile_text(format_file(path).text, name=str(path), path=path)

    assert after.ok == before.ok
    if before.ok:
        assert _network(after) == _network(before)
    else:
        codes = {d.code for d in before.diagnostics}
        assert {d.code for d in after.diagnostics} == codes
    if before.module is not None:
        assert without_spans(after.module) == without_spans(before.module)


def test_some_specs_compile_so_the_network_comparison_is_not_vacuous() -> None:
    assert any(compile_file(p).ok for p in FORMATTABLE)


@pytest.mark.parametrize("path", repository_specs(), ids=lambda p: p.name)
def test_every_spec_of_the_repository_is_formatted(path: Path, capsys) -> None:
    status = run(["fmt", "--check", str(path)])

    assert status == 0, capsys.readouterr().out


# -- The command ----------------------------------------------------------------

MESSY = "network n { dt = 0.1 ms }\n"
TIDY = "network n {\n    dt = 0.1 ms\n}\n"


def test_check_names_the_files_that_would_change_and_writes_nothing(
    tmp_path: Path, capsys
) -> None:
    messy, tidy = tmp_path / "messy.mcdl", tmp_path / "tidy.mcdl"
    messy.write_text(MESSY)
    tidy.write_text(TIDY)

    status = run(["fmt", "--check", str(messy), str(tidy)])

    assert status == 1
    assert capsys.readouterr().out == f"would reformat {messy}\n"
    assert messy.read_text() == MESSY


def test_fmt_rewrites_files_in_place_keeping_their_permissions(tmp_path: Path) -> None:
    spec = tmp_path / "spec.mcdl"
    spec.write_text(MESSY)
    os.chmod(spec, 0o640)

    status = run(["fmt", str(spec)])

    assert status == 0
    assert spec.read_text() == TIDY
    assert spec.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["spec.mcdl"]


def test_a_folder_stands_for_the_specs_below_it(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    spec = tmp_path / "sub" / "spec.mcdl"
    spec.write_text(MESSY)

    assert run(["fmt", str(tmp_path)]) == 0
    assert spec.read_text() == TIDY


def test_a_spec_with_syntax_errors_is_reported_and_left_untouched(
    tmp_path: Path, capsys
) -> None:
    spec = tmp_path / "bad.mcdl"
    spec.write_text("network n {\n    dt = * 2\n}\n")

    status = run(["fmt", str(spec)])

    assert status == 1
    assert f"{spec}:2:10: error[E0101]" in capsys.readouterr().err
    assert spec.read_text() == "network n {\n    dt = * 2\n}\n"


def test_a_spec_that_is_not_utf8_is_reported(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "latin1.mcdl"
    spec.write_bytes(b"// caf\xe9\nnetwork n {}\n")

    assert run(["fmt", str(spec)]) == 1
    assert "error[E0106]" in capsys.readouterr().err


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    assert run(["fmt", str(tmp_path / "missing.mcdl")]) == 2


def test_dash_formats_standard_input_to_standard_output(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(MESSY))

    assert run(["fmt", "-"]) == 0
    assert capsys.readouterr().out == TIDY
