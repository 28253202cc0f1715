"""The experiment specs, their data and the closed form they are measured by."""

from __future__ import annotations

import numpy as np
import pytest

from mcdl import data, ir
from mcdl.compiler import compile_file
from mcdl.experiments import common
from mcdl.experiments.digits import hidden_sizes
from mcdl.experiments.regression import learners, output_rate
from mcdl.init import initial_weights
from mcdl.train import engines, loop

SPECS = {
    name: common.SPECS / f"{name}.mcdl"
    for name in ("self_predicting", "regression", "digits", "bars")
}


@pytest.fixture(scope="module")
def networks() -> dict[str, ir.Network]:
    return {name: common.load(path) for name, path in SPECS.items()}


def test_the_teacher_is_the_paper_s_30_20_10_network():
    teacher = data.teacher(seed=0)
    train, validation = data.regression(train=50, validation=20, seed=0)

    assert teacher.w10.shape == (20, 30) and teacher.w21.shape == (10, 20)
    assert np.abs(teacher.w10).max() < 1 and np.abs(teacher.w21).max() < 1
    assert train.inputs.shape == (50, 30) and validation.labels.shape == (20, 10)
    assert np.abs(train.inputs).max() < 1 and train.inputs.min() < 0
    assert train.classes == 0
    hidden = data.teacher_phi(2.0 * train.inputs @ teacher.w10.T)
    np.testing.assert_allclose(train.labels, 10.0 * hidden @ teacher.w21.T)
    np.testing.assert_allclose(
        teacher.rates(train.inputs), data.teacher_phi(train.labels)
    )
    again, _ = data.regression(train=50, validation=20, seed=0)
    np.testing.assert_array_equal(again.inputs, train.inputs)
    other, _ = data.regression(train=50, validation=20, seed=1)
    assert not np.array_equal(other.labels, train.labels)


def test_the_soft_relu_of_the_regression_task_is_gamma_01_theta_3():
    u = np.array([-5.0, 0.0, 3.0, 10.0])
    np.testing.assert_allclose(data.teacher_phi(u), 0.1 * np.log1p(np.exp(u - 3)))


def test_random_patterns_have_the_asked_shape():
    patterns = data.random_patterns(7, 5, 3, seed=2)

    assert patterns.inputs.shape == (7, 5) and patterns.labels.shape == (7,)
    assert patterns.labels.max() < 3 and 0 <= patterns.inputs.min()


def test_the_student_s_output_has_the_teacher_s_transfer_function(networks):
    u = np.linspace(-6, 12, 25)

    np.testing.assert_allclose(
        output_rate(networks["regression"], u), data.teacher_phi(u), rtol=1e-12
    )


def test_the_shallow_learner_only_freezes_the_hidden_input_weights(networks):
    network = networks["regression"]
    pair = learners(network, "task")

    micro = pair["microcircuit"].protocol.phases[0].learn
    shallow = pair["shallow"].protocol.phases[0].learn
    assert set(micro) - set(shallow) == {"W_up1"}
    assert pair["shallow"].projections == network.projections


def test_the_regression_student_starts_self_predicting(networks):
    network = networks["regression"]
    weights = initial_weights(network)
    closed = common.closed_form(network, weights)

    assert set(closed) == {"W_IP1", "W_PI1"}
    for name, expected in closed.items():
        np.testing.assert_allclose(weights[name], expected)


def test_the_self_predicting_spec_starts_far_from_its_closed_form(networks):
    network = networks["self_predicting"]
    weights = initial_weights(network)
    closed = common.closed_form(network, weights)
    phase = network.protocol.phases[0]

    assert phase.input == "random" and not phase.teach
    assert set(phase.learn) == {"W_IP1", "W_PI1"}
    for name, expected in closed.items():
        distance = np.linalg.norm(weights[name] - expected) / np.linalg.norm(expected)
        assert distance > 1, name


def test_the_digits_spec_has_two_hidden_layers_with_fixed_w_pi(networks):
    network = networks["digits"]
    weights = initial_weights(network)

    assert hidden_sizes(network) == (100, 50)
    assert network.protocol.dataset == "digits"
    for k in (1, 2):
        assert not network.projection(f"W_PI{k}").plastic
        np.testing.assert_allclose(weights[f"W_PI{k}"], -weights[f"W_down{k}"])
    closed = common.closed_form(network, weights)
    for name, expected in closed.items():
        np.testing.assert_allclose(weights[name], expected)


def test_the_closed_form_is_what_init_self_predicting_gives(networks):
    network = networks["bars"]
    weights = initial_weights(network)

    closed = common.closed_form(network, weights)

    assert set(closed) == {"W_IP1", "W_PI1"}
    for name, expected in closed.items():
        np.testing.assert_allclose(weights[name], expected)


def test_the_training_loop_knows_the_regression_task():
    train, validation = loop.load_dataset("regression", SPECS["regression"])

    assert train.inputs.shape == (2000, 30) and validation.labels.shape == (200, 10)


def test_a_regression_evaluation_has_a_loss_and_no_accuracy(networks):
    network = networks["regression"]
    engine = engines.SimEngine(network, SPECS["regression"])
    _, validation = data.regression(train=0, validation=3)

    result = engine.evaluate(validation.inputs, validation.labels)
    readouts = result.readouts
    assert result.loss == pytest.approx(np.mean((readouts - validation.labels) ** 2))
    assert np.isnan(loop._accuracy(result, validation))
    assert not np.isnan(loop._accuracy(result, data.bars_validation()))


@pytest.mark.parametrize("name", ["self_predicting", "regression", "digits"])
def test_every_experiment_spec_compiles_without_diagnostics(name):
    result = compile_file(SPECS[name])

    assert result.ok and not result.diagnostics
