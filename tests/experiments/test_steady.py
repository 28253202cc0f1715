"""The steady-state approximation: its network, its fixed point, its engines."""

from __future__ import annotations

import numpy as np
import pytest

from mcdl.compiler import compile_file
from mcdl.experiments.common import SPECS
from mcdl.experiments.steady import steady_state
from mcdl.sim import Recorder, Simulator
from mcdl.train import engines

BARS = SPECS / "bars.mcdl"
NAMES = ["hidden.pyr.soma", "hidden.pyr.apical", "hidden.inter.soma", "output.pyr.soma"]


@pytest.fixture(scope="module")
def bars():
    return compile_file(BARS).network


def test_the_approximation_is_a_network_with_long_exact_steps(bars):
    steady = steady_state(bars, relax=10, plastic_steps=4)

    protocol = steady.protocol
    assert steady.integration == "exponential"
    assert steady.dt == pytest.approx((100 - 20) / 4)
    assert protocol.pattern == pytest.approx(14 * steady.dt)
    assert protocol.settle == pytest.approx(10 * steady.dt)
    assert protocol.readout == pytest.approx(steady.dt)
    assert protocol.lowpass == 0
    assert all(not phase.noise for phase in protocol.phases)
    assert all(p.plasticity.lowpass is None for p in steady.projections if p.plastic)
    assert all(c.noise == 0 for p in steady.populations for c in p.compartments)


def test_its_fixed_point_is_where_the_full_dynamics_settle(bars):
    pattern = np.random.default_rng(1).random(9)
    target = np.array([1.0, 0.1, 0.1])
    settled = {}
    for network in (bars, steady_state(bars)):
        simulator = Simulator(network)
        record = Recorder(NAMES, every="pattern")
        simulator.present(pattern, target, teach=True, record=record)
        settled[network.integration] = record.arrays()

    for name in NAMES:
        np.testing.assert_allclose(
            settled["exponential"][name], settled["euler"][name], rtol=0, atol=1e-9
        )


def test_a_plastic_step_moves_the_weights_by_the_pattern_s_update(bars):
    steady = steady_state(bars, relax=30, plastic_steps=1)
    simulator = Simulator(steady)
    before = simulator.weights()
    pattern = np.random.default_rng(2).random(9)
    target = np.array([0.1, 1.0, 0.1])

    # The rule at the fixed point, before the one plastic step moves anything.
    probe = Simulator(steady)
    probe.present(pattern, target, teach=True)
    rate = probe.variable("output.pyr.rate")
    basal = probe.variable("output.pyr.basal")
    hidden = probe.variable("hidden.pyr.rate")
    prediction = np.logaddexp(0.0, basal / 1.1)
    expected = 0.01 * np.outer(rate - prediction, hidden) * 80.0

    simulator.present(pattern, target, teach=True, learn=("W_up2",))
    np.testing.assert_allclose(
        simulator.weights()["W_up2"] - before["W_up2"], expected, rtol=1e-9, atol=1e-12
    )


def test_a_network_with_a_current_has_no_steady_state_form(bars):
    population = bars.populations[1]
    soma = population.compartments[0].model_copy(update={"current": population.rate})
    changed = population.model_copy(
        update={"compartments": (soma, *population.compartments[1:])}
    )
    network = bars.model_copy(
        update={"populations": (bars.populations[0], changed, *bars.populations[2:])}
    )

    with pytest.raises(ValueError, match="current"):
        steady_state(network)


@pytest.mark.lava
@pytest.mark.timeout(120)
def test_the_approximation_runs_the_same_on_lava(bars, tmp_path):
    steady = steady_state(bars)
    rng = np.random.default_rng(3)
    inputs, labels = rng.random((4, 9)), rng.integers(0, 3, 4)
    package = engines.build_package(steady, BARS, tmp_path, "fused")
    module = engines.load_package(package)
    simulator = Simulator(steady)

    with module.Network() as net:
        lava = net.train(inputs, labels, phase="task")
        lava_weights = net.weights()
    sim = simulator.train(inputs, labels, "task")

    np.testing.assert_allclose(lava, sim, rtol=0, atol=1e-9)
    for name, weights in simulator.weights().items():
        np.testing.assert_allclose(lava_weights[name], weights, rtol=0, atol=1e-9)
