"""Patterns, phases and read-out, as docs/semantics.md's last section says."""

from __future__ import annotations

import numpy as np
import pytest

from mcdl import data
from mcdl.sim import Recorder, Simulator

from .networks import bars_network, phase

LEARN = ("W_up1", "W_up2", "W_IP1", "W_PI1")
TRAIN = data.bars(samples_per_class=2)
VALIDATION = data.bars_validation()


def test_evaluation_leaves_the_network_as_it_found_it():
    evaluated, twin = Simulator(bars_network()), Simulator(bars_network())
    for sim in (evaluated, twin):
        sim.train(TRAIN.inputs[:2], TRAIN.labels[:2], "task")
    names = evaluated.variable_names()
    before = {name: evaluated.variable(name) for name in names}

    evaluated.evaluate(VALIDATION.inputs, VALIDATION.labels)

    for name, value in before.items():
        np.testing.assert_array_equal(evaluated.variable(name), value, err_msg=name)
    for sim in (evaluated, twin):
        sim.train(TRAIN.inputs[2:3], TRAIN.labels[2:3], "task")
    for name, value in twin.state().items():
        np.testing.assert_array_equal(evaluated.state()[name], value, err_msg=name)


def test_evaluate_reports_the_loss_and_accuracy_of_its_readouts():
    sim = Simulator(bars_network())

    loss, accuracy, readouts = sim.evaluate(VALIDATION.inputs, VALIDATION.labels)

    targets = data.target_potentials(VALIDATION.labels, 3, high=1.0, low=0.1)
    assert readouts.shape == (8, 3)
    assert loss == pytest.approx(np.mean((readouts - targets) ** 2))
    assert accuracy == np.mean(readouts.argmax(axis=1) == VALIDATION.labels)


def test_plasticity_waits_until_the_network_has_settled():
    sim = Simulator(bars_network())
    record = Recorder(["D:W_up1", "W_up1"], every="step")

    sim.present(
        TRAIN.inputs[0], [1.0, 0.1, 0.1], teach=True, learn=LEARN, record=record
    )

    traces, weights = record.arrays()["D:W_up1"], record.arrays()["W_up1"]
    settle = sim.settle_steps
    assert settle == 200
    assert not traces[:settle].any()
    assert traces[settle].any()
    # W follows the trace of the step before, which is still 0 at step 200.
    np.testing.assert_array_equal(weights[settle], weights[0])
    assert (weights[settle + 1] != weights[0]).any()


def test_only_the_projections_that_learn_change():
    sim = Simulator(bars_network())
    before = sim.weights()

    sim.present(TRAIN.inputs[0], [1.0, 0.1, 0.1], teach=True, learn={"W_up2"})

    after = sim.weights()
    assert (after["W_up2"] != before["W_up2"]).any()
    for name in ("W_up1", "W_IP1", "W_PI1", "W_down1"):
        np.testing.assert_array_equal(after[name], before[name])


def test_the_readout_is_the_mean_output_potential_over_the_last_steps():
    sim = Simulator(bars_network())
    record = Recorder(["output.pyr.soma"], every="step")

    readout = sim.present(TRAIN.inputs[0], record=record)

    potentials = record.arrays()["output.pyr.soma"]
    assert potentials.shape == (1000, 3)
    np.testing.assert_allclose(readout, potentials[-200:].mean(axis=0), rtol=1e-13)


def test_a_recorder_per_pattern_takes_the_end_of_each_pattern():
    sim = Simulator(bars_network())
    record = Recorder(["hidden.pyr.rate", "W_up1"])

    sim.train(TRAIN.inputs[:2], TRAIN.labels[:2], "task", record=record)

    arrays = record.arrays()
    assert arrays["hidden.pyr.rate"].shape == (2, 30)
    np.testing.assert_array_equal(arrays["W_up1"][-1], sim.weights()["W_up1"])


def test_training_takes_labels_or_target_potentials():
    by_label, by_potential = Simulator(bars_network()), Simulator(bars_network())
    labels = TRAIN.labels[:2]

    first = by_label.train(TRAIN.inputs[:2], labels, "task")
    potentials = data.target_potentials(labels, 3, high=1.0, low=0.1)
    second = by_potential.train(TRAIN.inputs[:2], potentials, "task")

    np.testing.assert_array_equal(first, second)


def with_pre_training(patterns: int) -> Simulator:
    """The bars network with a random-input phase before the task."""
    network = bars_network()
    pre = phase(
        "pre", patterns=patterns, input="random", teach=False, learn=("W_IP1", "W_PI1")
    )
    protocol = network.protocol.model_copy(
        update={"phases": (pre, *network.protocol.phases)}
    )
    return Simulator(network.model_copy(update={"protocol": protocol}))


def test_a_random_phase_draws_its_inputs_from_its_own_generator():
    phased, by_hand = with_pre_training(2), with_pre_training(2)

    result = phased.run_phase("pre")

    patterns = np.random.default_rng([1, 1000 + 0]).random((2, 9))
    readouts = [
        by_hand.present(p, learn=("W_IP1", "W_PI1"), noise=True) for p in patterns
    ]
    np.testing.assert_array_equal(result.readouts, readouts)
    for name, value in by_hand.state().items():
        np.testing.assert_array_equal(phased.state()[name], value, err_msg=name)


def test_a_data_phase_shows_the_data_in_order_once_per_epoch():
    phased, trained = Simulator(bars_network()), Simulator(bars_network())
    inputs, labels = TRAIN.inputs[:3], TRAIN.labels[:3]

    validation = (VALIDATION.inputs, VALIDATION.labels)

    result = phased.run_phase("task", (inputs, labels), validation=validation)

    np.testing.assert_array_equal(
        result.readouts, trained.train(inputs, labels, "task")
    )
    (evaluation,) = result.validation
    expected = trained.evaluate(*validation)
    assert (evaluation.loss, evaluation.accuracy) == (expected.loss, expected.accuracy)


def test_a_phase_unknown_to_the_protocol_is_an_error():
    sim = Simulator(bars_network())

    with pytest.raises(ValueError, match="no phase 'warm-up'"):
        sim.run_phase("warm-up")
