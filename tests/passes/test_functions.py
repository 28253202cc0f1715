"""Calls: user functions are inlined, built-ins get all their arguments.

In the network-level IR no user function is left: each call is replaced by
the function's body with the arguments in place of the parameters.
"""

from __future__ import annotations

from .specs import NEURON, at, bars, check, found, show, spec


def rate_of(text: str) -> str:

    result = check(text)
    assert result.diagnostics == []
    return show(result.network.population("out.pyr").rate)


def with_rate(rate: str, top: str = "") -> str:
    return spec(top=top, neuron=NEURON.replace("relu(soma)", rate))


def test_a_user_function_is_inlined_into_the_rate() -> None:
    text = with_rate("scaled(soma)", top="function scaled(x) = 3 * x")

    assert rate_of(text) == "(3 * soma)"


def test_a_parameter_default_is_used_when_the_argument_is_left_out() -> None:
    text = with_rate("relu(scaled(soma))", top="function scaled(x, k = 2) = k * x")

    assert rate_of(text) == "relu((2 * soma))"


def test_functions_calling_functions_are_inlined_all_the_way() -> None:
    top = "function double(x) = 2 * x\nfunction quadruple(x) = double(double(x))"

    assert rate_of(with_rate("quadruple(soma)", top)) == "(2 * (2 * soma))"


def test_a_builtin_call_gets_every_argument_in_order() -> None:
    assert rate_of(with_rate("soft_relu(soma)")) == "soft_relu(soma, 1, 1, 0)"
    assert rate_of(with_rate("soft_relu(soma, beta = 2)")) == "soft_relu(soma, 1, 2, 0)"


def test_neuron_parameters_and_constants_become_numbers() -> None:
    neuron = NEURON.replace("neuron N", "neuron N(gain = 3)").replace(
        "relu(soma)", "relu(gain * soma - bias)"
    )
    text = spec(top="const bias = 0.5", neuron=neuron)

    assert rate_of(text) == "relu(((3 * soma) - 0.5))"


def test_phi_in_a_rule_is_the_post_synaptic_transfer_function() -> None:
    update = bars().network.projection("W_up1").plasticity.update

    assert show(update) == (
        "((0.02 * (soft_relu(post.soma, 1, 1, 0) "
        "- soft_relu(post.basal.prediction, 1, 1, 0))) * pre.rate)"
    )


def test_a_function_calling_itself_is_e0601_at_its_name() -> None:
    text = spec(top="function f(x) = 1 + f(x)")

    assert found(check(text)) == {("E0601", *at(text, "f(x) ="))}


def test_mutual_recursion_is_reported_for_each_function() -> None:
    text = spec(top="function f(x) = g(x)\nfunction g(x) = f(x)")

    assert found(check(text)) == {
        ("E0601", *at(text, "f(x) =")),
        ("E0601", *at(text, "g(x) =")),
    }


def test_recursion_in_a_rule_is_reported_and_stops() -> None:
    rule = "function f(x) = f(x)\nrule r(eta = 1) { dw = f(pre.rate) }"
    text = spec(top=rule, projection="project x -> out.pyr.soma as W { learn r() }")

    codes = found(check(text))

    assert ("E0601", *at(text, "f(x) =")) in codes
    assert {code for code, _, _ in codes} == {"E0601"}


def test_too_many_arguments_is_e0602() -> None:
    rule = "rule r(eta = 1) { dw = relu(pre.rate, 2) }"
    text = spec(top=rule, projection="project x -> out.pyr.soma as W { learn r() }")

    assert found(check(text)) == {("E0602", *at(text, "relu(pre.rate"))}


def test_a_missing_argument_is_e0602() -> None:
    rule = "rule r(eta = 1) { dw = clip(pre.rate, 0) }"
    text = spec(top=rule, projection="project x -> out.pyr.soma as W { learn r() }")

    result = check(text)

    assert found(result) == {("E0602", *at(text, "clip("))}
    assert result.diagnostics[0].message == "'clip' needs the argument 'high'"
