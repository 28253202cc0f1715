"""Plasticity rules read only what a synapse can see.

Local: ``pre.rate``, ``post.COMPARTMENT``, ``post.site`` (the compartment the
projection targets), ``post.DENDRITE.prediction``, ``post.rate``, ``w``,
parameters and constants. Anything else of the pre-synaptic neuron, and any
population read directly, is non-local (E0501).
"""

from __future__ import annotations

from .specs import at, check, found, show, spec


def with_rule(dw: str) -> str:
    rule = f"rule r(eta = 0.5) {{ dw = {dw} }}"
    return spec(top=rule, projection="project x -> out.pyr.soma as W { learn r() }")


def update(text: str) -> str:
    result = check(text)
    assert result.diagnostics == []
    return show(result.network.projection("W").plasticity.update)


def test_local_terms_are_kept_and_site_becomes_the_target_compartment() -> None:
    text = with_rule("eta * (post.site - w) * pre.rate * post.rate")

    assert update(text) == "(((0.5 * (post.soma - w)) * pre.rate) * post.rate)"


def test_reading_the_pre_synaptic_soma_is_non_local() -> None:
    text = with_rule("eta * pre.soma")

    assert found(check(text)) == {("E0501", *at(text, "pre.soma"))}


def test_reading_another_population_is_non_local() -> None:
    text = with_rule("eta * out.pyr.soma * pre.rate")

    result = check(text)

    assert found(result) == {("E0501", *at(text, "out.pyr.soma"))}
    assert "another population" in result.diagnostics[0].message


def test_reading_the_input_directly_is_non_local() -> None:
    text = with_rule("eta * x.rate")

    assert found(check(text)) == {("E0501", *at(text, "x.rate"))}


def test_reading_the_target_is_non_local() -> None:
    text = with_rule("eta * (target - post.soma) * pre.rate")

    assert found(check(text)) == {("E0501", *at(text, "target"))}


def test_an_unknown_name_in_a_rule_is_e0502() -> None:
    text = with_rule("etta * pre.rate")

    assert found(check(text)) == {("E0502", *at(text, "etta"))}


def test_a_compartment_the_post_synaptic_neuron_lacks_is_e0502() -> None:
    text = with_rule("eta * post.basal * pre.rate")

    assert found(check(text)) == {("E0502", *at(text, "post.basal"))}


def test_the_prediction_of_a_soma_is_e0902() -> None:
    text = with_rule("eta * post.soma.prediction * pre.rate")

    assert found(check(text)) == {("E0902", *at(text, "post.soma.prediction"))}
