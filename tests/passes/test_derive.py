"""The derived quantities of a checked network, shown on ``specs/bars.mcdl``.

A dendrite coupled into the soma predicts the somatic potential attenuated by
``g / (g_lk + sum of the conductances into the soma)``; a self-predicting
initialiser becomes a factor times a partner projection's weights.
"""

from __future__ import annotations

import pytest

from mcdl import ir

from .specs import at, bars, check, found, spec


@pytest.fixture(scope="module")
def network() -> ir.Network:
    result = bars()
    assert result.diagnostics == []
    return result.network


def prediction(network: ir.Network, population: str, dendrite: str) -> ir.Prediction:
    return network.population(population).compartment(dendrite).prediction


def test_hidden_pyramidal_soma_sums_leak_basal_and_apical(network) -> None:
    soma = network.population("hidden.pyr").compartment("soma")

    assert soma.total_conductance == pytest.approx(0.1 + 1.0 + 0.8)


def test_hidden_pyramidal_basal_prediction_is_1_over_1_9(network) -> None:
    basal = prediction(network, "hidden.pyr", "basal")

    assert basal.into == "soma"
    assert basal.factor == pytest.approx(1 / 1.9)


def test_hidden_pyramidal_apical_prediction_is_0_8_over_1_9(network) -> None:
    assert prediction(network, "hidden.pyr", "apical").factor == pytest.approx(
        0.8 / 1.9
    )


def test_output_pyramidal_basal_prediction_is_1_over_1_1(network) -> None:
    assert prediction(network, "output.pyr", "basal").factor == pytest.approx(1 / 1.1)


def test_interneuron_dendrite_prediction_is_1_over_1_1(network) -> None:
    prediction_ = prediction(network, "hidden.inter", "dendrite")

    assert prediction_.factor == pytest.approx(1 / 1.1)


def test_w_ip_starts_as_w_up2_times_the_ratio_of_predictions(network) -> None:
    init = network.projection("W_IP1").init

    assert isinstance(init, ir.SelfPredictingInit)
    assert init.source == "W_up2"
    assert init.factor == pytest.approx((1 / 1.1) / (1 / 1.1))
    assert init.factor == pytest.approx(1.0)


def test_w_pi_starts_as_minus_w_down1(network) -> None:
    init = network.projection("W_PI1").init

    assert isinstance(init, ir.SelfPredictingInit)
    assert (init.source, init.factor) == ("W_down1", -1.0)


def test_input_output_and_protocol(network) -> None:
    assert (network.input, network.output) == ("pixels", "output.pyr")
    assert network.protocol.phases[0].learn == ("W_up1", "W_up2", "W_IP1", "W_PI1")
    assert network.protocol.pattern == 100.0


def test_network_round_trips_through_json_exactly(network) -> None:
    dumped = network.model_dump_json()

    again = ir.Network.model_validate_json(dumped)

    assert again == network
    assert again.model_dump_json() == dumped


def test_a_phase_without_learn_learns_every_plastic_projection() -> None:
    rule = "rule hebbian(eta = 0.1) { dw = eta * post.rate * pre.rate }"
    text = spec(
        top=rule,
        projection="project x -> out.pyr.soma as W { learn hebbian() }",
        protocol="protocol { pattern = 10 ms  phase one { epochs = 2 } }",
    )

    network = check(text).network

    assert network.protocol.phases[0].learn == ("W",)
    assert network.protocol.phases[0].epochs == 2


def test_a_phase_cannot_learn_a_fixed_projection() -> None:
    text = spec(protocol="protocol { pattern = 10 ms  phase one { learn W } }")

    assert found(check(text)) == {("E0903", *at(text, "W }"))}


def test_settle_must_be_shorter_than_the_pattern() -> None:
    text = spec(protocol="protocol { pattern = 10 ms  settle = 10 ms }")

    assert found(check(text)) == {("E0903", *at(text, "protocol"))}
