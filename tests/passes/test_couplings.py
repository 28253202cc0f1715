"""Neuron types become compartments with their conductances and predictions."""

from __future__ import annotations

import pytest

from .specs import at, check, found, spec

TWO_DENDRITES = """\
neuron Pyr(g_lk = 0.1, g_B = 1.0, g_A = 0.8) {
    compartment soma { leak = g_lk }
    compartment basal dendrite
    compartment apical dendrite
    couple basal -> soma g = g_B
    couple apical -> soma g = g_A
    rate = relu(soma)
}
"""


def hidden(instance: str) -> str:
    return spec(top=TWO_DENDRITES, network=f"    layer hid {{ p: {instance}[2] }}")


def compartment(text: str, name: str):
    result = check(text)
    assert result.diagnostics == []
    return result.network.population("hid.p").compartment(name)


def test_the_soma_sums_its_leak_and_every_coupling_into_it() -> None:
    soma = compartment(hidden("Pyr"), "soma")

    assert soma.kind == "integrating"
    assert soma.total_conductance == pytest.approx(1.9)


def test_a_coupled_dendrite_predicts_the_soma_attenuated() -> None:
    basal = compartment(hidden("Pyr"), "basal")

    assert basal.kind == "dendrite"
    assert basal.prediction.into == "soma"
    assert basal.prediction.factor == pytest.approx(1.0 / 1.9)


def test_instance_arguments_change_the_derived_factors() -> None:
    apical = compartment(hidden("Pyr(g_A = 0.4, g_lk = 0.6)"), "apical")

    assert apical.prediction.factor == pytest.approx(0.4 / 2.0)


def test_an_unknown_argument_of_an_instance_is_e0602_with_a_hint() -> None:
    text = hidden("Pyr(gA = 0.4)")

    result = check(text)

    assert found(result) == {("E0602", *at(text, "gA"))}
    assert result.diagnostics[0].hint == "did you mean 'g_A'?"


def test_a_coupling_into_a_dendrite_is_e0302() -> None:
    text = hidden("Pyr").replace("basal -> soma", "soma -> basal")

    assert found(check(text)) == {("E0302", *at(text, "basal g"))}


def test_a_coupling_to_an_undeclared_compartment_is_e0203() -> None:
    text = hidden("Pyr").replace("apical -> soma", "apikal -> soma")

    result = check(text)

    assert found(result) == {("E0203", *at(text, "apikal"))}
    assert result.diagnostics[0].hint == "did you mean 'apical'?"


def test_a_negative_leak_is_e0403() -> None:
    text = hidden("Pyr(g_lk = -0.1)")

    assert found(check(text)) == {("E0403", *at(text, "g_lk }"))}
