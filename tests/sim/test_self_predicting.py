"""With the closed-form weights of model.md §3 the apical dendrite is silent."""

from __future__ import annotations

import numpy as np

from mcdl import data
from mcdl.sim import Simulator

from .networks import bars_network


def test_the_self_predicting_state_cancels_the_top_down_feedback():
    sim = Simulator(bars_network())

    for pattern in data.bars_validation().inputs:
        sim.present(pattern)

        apical = sim.variable("hidden.pyr.apical")
        assert np.abs(apical).max() < 1e-9


def test_the_interneurons_predict_the_output_in_the_self_predicting_state():
    sim = Simulator(bars_network())

    sim.present(data.bars_validation().inputs[0])

    np.testing.assert_allclose(
        sim.variable("hidden.inter.soma"), sim.variable("output.pyr.soma"), atol=1e-9
    )


def test_without_the_lateral_weights_the_feedback_reaches_the_apical_dendrite():
    sim = Simulator(bars_network())
    sim.set_state({**sim.state(), "W_PI1": np.zeros((30, 3))})

    sim.present(data.bars_validation().inputs[0])

    assert np.abs(sim.variable("hidden.pyr.apical")).max() > 0.1
