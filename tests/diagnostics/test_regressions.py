"""Regression tests: front-end bugs once found by fixtures and fuzzing.

Each test states what the compiler does with an input that once gave a
traceback, a wrong verdict, a follow-on error or a wrong location.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mcdl.compiler import compile_file, compile_text
from mcdl.diagnostics import render_text

NEURON = """\
neuron N {
    compartment soma { leak = LEAK }
    rate = RATE
}
"""

NETWORK = """\
network n {
    SETTINGS
    input x[1]
    layer out { pyr: N[1] }
    project x -> out.pyr.soma as W BODY
    nudge out.pyr.soma from target g = 1
    protocol { pattern = 10 ms PHASE }
}
"""


def spec(
    top: str = "",
    leak: str = "0.1",
    rate: str = "relu(soma)",
    settings: str = "",
    body: str = "",
    phase: str = "",
) -> str:
    """The spec of one input and one output, with the given pieces."""
    neuron = NEURON.replace("LEAK", leak).replace("RATE", rate)
    network = (
        NETWORK.replace("SETTINGS", settings)
        .replace("BODY", body)
        .replace("PHASE", phase)
    )
    return f"{top}\n{neuron}\n{network}"


def codes(text: str) -> set[str]:
    return {d.code for d in compile_text(text, name="bug.mcdl").diagnostics}


def test_the_spec_these_tests_change_is_valid() -> None:
    assert compile_text(spec()).diagnostics == []


# -- Tracebacks instead of diagnostics ------------------------------------------


def test_a_recursive_function_in_a_constant_is_e0601_not_a_traceback() -> None:
    text = spec(top="function f(x) = f(x)\nconst c = f(1)", settings="seed = c")

    assert codes(text) == {"E0601"}


def test_a_chain_of_300_constants_compiles() -> None:
    chain = "const c0 = 1\n" + "".join(
        f"const c{i} = c{i - 1} + 0\n" for i in range(1, 300)
    )

    assert codes(spec(top=chain, settings="seed = c299")) == set()


def test_a_chain_of_150_functions_in_a_rate_compiles() -> None:
    chain = "function f0(x) = x\n" + "".join(
        f"function f{i}(x) = f{i - 1}(x) + 0\n" for i in range(1, 150)
    )

    assert codes(spec(top=chain, rate="relu(f149(soma))")) == set()


def test_a_complex_constant_is_e0404_not_a_traceback() -> None:
    assert codes(spec(settings="seed = (0 - 1) ** 0.5")) == {"E0404"}


def test_an_unreadable_import_is_e0701_not_a_traceback(tmp_path: Path) -> None:
    if not Path("/proc/self/mem").is_file():
        pytest.skip("needs /proc/self/mem, a file that exists but cannot be read")
    main = tmp_path / "main.mcdl"
    main.write_text('import "/proc/self/mem"\n' + spec(), encoding="utf-8")

    result = compile_file(main, allow_outside=True)

    assert {d.code for d in result.diagnostics} == {"E0701"}


# -- Wrong verdicts -------------------------------------------------------------


def test_a_non_local_read_inside_a_rule_function_is_e0501() -> None:
    rule = "function g(x) = x * pre.soma\nrule r(eta = 1) { dw = eta * g(1) }"

    assert codes(spec(top=rule, body="{ learn r() }")) == {"E0501"}


def test_a_user_function_default_is_used_in_a_constant() -> None:
    text = spec(top="function f(x, k = 2) = x * k", settings="seed = f(1)")

    result = compile_text(text)

    assert result.diagnostics == []
    assert result.network.seed == 2


def test_a_chain_of_60_functions_in_a_constant_is_not_recursion() -> None:
    chain = "function f0(x) = x\n" + "".join(
        f"function f{i}(x) = f{i - 1}(x)\n" for i in range(1, 60)
    )

    assert codes(spec(top=chain, settings="seed = f59(1)")) == set()


def test_adding_a_time_to_a_potential_in_a_rate_is_e0402() -> None:
    assert "E0402" in codes(spec(rate="relu(soma + 1 ms)"))


# -- Follow-on diagnostics of one mistake ---------------------------------------


def test_a_bad_leak_of_the_output_is_reported_once() -> None:
    assert codes(spec(leak="-1")) == {"E0403"}


def test_a_bad_initialiser_of_a_learning_projection_is_reported_once() -> None:
    rule = "rule r(eta = 1) { dw = eta * pre.rate }"
    text = spec(
        top=rule, body="{ init gaussian(0, 1)  learn r() }", phase="phase p { learn W }"
    )

    assert codes(text) == {"E0805"}


def test_a_misspelt_nudging_source_in_bars_is_reported_once(tmp_path: Path) -> None:
    bars = Path(__file__).resolve().parents[2] / "specs" / "bars.mcdl"
    text = bars.read_text(encoding="utf-8").replace(
        "from output.pyr.soma", "from outptu.pyr.soma"
    )
    path = tmp_path / "bars.mcdl"
    path.write_text(text, encoding="utf-8")

    assert {d.code for d in compile_file(path).diagnostics} == {"E0204"}


# -- Locations ------------------------------------------------------------------


def test_a_missing_neuron_parameter_is_reported_at_the_instance() -> None:
    text = spec().replace("neuron N {", "neuron N(k) {")

    (diagnostic,) = [d for d in compile_text(text).diagnostics if d.code == "E0602"]

    line = text.splitlines().index("    layer out { pyr: N[1] }") + 1
    assert diagnostic.span.line == line


def test_a_form_feed_does_not_shift_the_rendered_line() -> None:
    text = "const a = 1\x0cconst b = @\n"
    result = compile_text(text, name="ff.mcdl")
    source = result.sources["ff.mcdl"]

    first = render_text(result.diagnostics[0], source)

    assert "@" in first.splitlines()[1]


def test_invalid_utf8_after_a_non_ascii_character_is_located_by_character(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bad.mcdl"
    path.write_bytes("// é".encode() + b"\xff\n")

    (diagnostic,) = compile_file(path).diagnostics

    assert (diagnostic.code, diagnostic.span.column) == ("E0106", 5)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.mcdl"
    path.write_bytes(b"\xef\xbb\xbf" + spec().encode())

    assert compile_file(path).diagnostics == []
