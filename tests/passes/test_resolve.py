"""Names: declared once, used only when declared, with "did you mean" hints."""

from __future__ import annotations

from .specs import NEURON, at, check, found, spec


def hint(text: str) -> str | None:
    (diagnostic,) = check(text).diagnostics
    return diagnostic.hint


def test_misspelt_neuron_type_suggests_the_declared_one() -> None:
    text = spec(
        network="    layer hid { h: Pyramidl[1] }",
        neuron=NEURON.replace("neuron N", "neuron Pyramidal") + NEURON,
    )

    result = check(text)

    assert found(result) == {("E0201", *at(text, "Pyramidl"))}
    assert result.diagnostics[0].hint == "did you mean 'Pyramidal'?"


def test_misspelt_population_suggests_the_layer() -> None:
    text = spec(projection="project x -> ouput.pyr.soma as W")

    assert found(check(text)) == {("E0204", *at(text, "ouput"))}
    assert hint(text) == "did you mean 'out'?"


def test_misspelt_population_of_a_layer_suggests_its_name() -> None:
    text = spec(projection="project x -> out.pry.soma as W")

    assert found(check(text)) == {("E0204", *at(text, "pry"))}
    assert hint(text) == "did you mean 'pyr'?"


def test_misspelt_compartment_suggests_the_compartment() -> None:
    text = spec(projection="project x -> out.pyr.som as W")

    assert found(check(text)) == {("E0203", *at(text, "som as"))}
    assert hint(text) == "did you mean 'soma'?"


def test_misspelt_setting_suggests_the_setting() -> None:
    text = spec(network="    sede = 1")

    assert found(check(text)) == {("E0205", *at(text, "sede"))}
    assert hint(text) == "did you mean 'seed'?"


def test_misspelt_function_suggests_the_builtin() -> None:
    text = spec(network="    seed = mx(1, 2)")

    assert found(check(text)) == {("E0603", *at(text, "mx"))}
    assert hint(text) == "did you mean 'max'?"


def test_misspelt_projection_in_a_phase_suggests_the_projection() -> None:
    text = spec(protocol="protocol { pattern = 10 ms  phase p { learn Wx } }")

    assert found(check(text)) == {("E0201", *at(text, "Wx"))}
    assert hint(text) == "did you mean 'W'?"


def test_a_name_declared_twice_points_at_the_second_and_names_the_first() -> None:
    text = spec(top="const g = 1\nconst g = 2")

    result = check(text)

    assert found(result) == {("E0202", *at(text, "g = 2"))}
    line, column = at(text, "const g = 1")
    assert result.diagnostics[0].message == (
        f"'g' is already declared at test.mcdl:{line}:{column}"
    )


def test_two_populations_of_one_layer_may_not_share_a_name() -> None:
    text = spec().replace("{ pyr: N[1] }", "{ pyr: N[1]  pyr: N[2] }")

    assert found(check(text)) == {("E0202", *at(text, "pyr", 2))}


def test_a_network_name_that_is_a_python_keyword_is_e0105() -> None:
    text = spec().replace("network n", "network class")

    assert found(check(text)) == {("E0105", *at(text, "class"))}


def test_a_spec_without_a_network_is_e0206() -> None:
    assert found(check(NEURON)) == {("E0206", 1, 1)}
