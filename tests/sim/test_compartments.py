"""One compartment at a time: each term of ``I`` in docs/semantics.md, step 4."""

from __future__ import annotations

import numpy as np
import pytest

from mcdl.sim import SimError, Simulator

from .networks import (
    constant,
    coupling,
    dendrite,
    inputs,
    network,
    neurons,
    nudging,
    projection,
    protocol,
    ref,
    soma,
    uniform,
)

DT = 0.1


def leaky_cell(integration: str) -> Simulator:
    """One population of four somas with leak 0.3, rest 0.2 and capacitance 2."""
    cell = neurons("cell", 4, (soma(leak=0.3, rest=0.2, capacitance=2.0),))
    return Simulator(network((inputs("x", 1), cell), integration=integration))


@pytest.mark.parametrize("integration", ["euler", "exponential"])
def test_a_leaky_soma_decays_to_rest_as_the_closed_form_says(integration):
    sim = leaky_cell(integration)
    start = np.array([1.0, -1.0, 0.2, 5.0])
    sim.set_state({**sim.state(), "cell.soma": start})
    steps = 50

    for _ in range(steps):
        sim.step(np.zeros(1))

    g, rest, capacitance = 0.3, 0.2, 2.0
    if integration == "euler":
        factor = (1.0 - DT * g / capacitance) ** steps
    else:
        factor = np.exp(-steps * DT * g / capacitance)
    expected = rest + (start - rest) * factor
    np.testing.assert_allclose(sim.variable("cell.soma"), expected, rtol=1e-13)


def test_a_soma_starts_at_its_resting_potential():
    sim = leaky_cell("euler")

    np.testing.assert_array_equal(sim.variable("cell.soma"), np.full(4, 0.2))


def test_a_dendrite_is_the_weighted_sum_of_its_projections():
    other = neurons("other", 2, (soma(),))
    cell = neurons(
        "cell", 2, (soma(), dendrite("basal")), (coupling("basal", "soma", 1.0),)
    )
    sim = Simulator(
        network(
            (inputs("x", 3), other, cell),
            (
                projection("W_in", "x", "cell.basal", uniform(seed=1)),
                projection(
                    "W_side",
                    "other",
                    "cell.basal",
                    uniform(seed=2),
                    source_var="soma",
                    one_to_one=True,
                ),
            ),
        )
    )
    u_other = np.array([0.3, -0.7])
    sim.set_state({**sim.state(), "other.soma": u_other})
    pattern = np.array([0.2, 0.5, 0.9])

    sim.step(pattern)

    weights = sim.weights()
    expected = weights["W_in"] @ pattern + weights["W_side"] * u_other
    np.testing.assert_allclose(sim.variable("cell.basal"), expected, rtol=1e-14)


def test_a_dendrite_without_projections_is_zero():
    cell = neurons("cell", 2, (soma(), dendrite("apical")))
    sim = Simulator(network((inputs("x", 1), cell)))

    sim.step(np.ones(1))

    np.testing.assert_array_equal(sim.variable("cell.apical"), np.zeros(2))


def test_a_coupling_pulls_the_soma_toward_its_dendrite():
    cell = neurons(
        "cell",
        3,
        (soma(leak=0.1), dendrite("basal")),
        (coupling("basal", "soma", 2.0),),
    )
    sim = Simulator(
        network(
            (inputs("x", 3), cell), (projection("W", "x", "cell.basal", uniform(1)),)
        )
    )
    pattern = np.array([1.0, 0.5, 0.25])

    sim.step(pattern)
    u1 = sim.variable("cell.soma")
    sim.step(pattern)

    v = sim.weights()["W"] @ pattern
    np.testing.assert_allclose(u1, DT * 2.0 * v)
    expected = u1 + DT * (0.1 * (0.0 - u1) + 2.0 * (v - u1))
    np.testing.assert_allclose(sim.variable("cell.soma"), expected, rtol=1e-13)


def test_a_projection_onto_a_soma_is_a_direct_current():
    cell = neurons("cell", 2, (soma(leak=0.5, capacitance=4.0),))
    sim = Simulator(
        network(
            (inputs("x", 3), cell), (projection("W", "x", "cell.soma", uniform(3)),)
        )
    )
    pattern = np.array([0.1, 0.2, 0.3])

    sim.step(pattern)

    expected = DT / 4.0 * (sim.weights()["W"] @ pattern)
    np.testing.assert_allclose(sim.variable("cell.soma"), expected, rtol=1e-13)


def teacher(form: str) -> Simulator:
    """An output of two somas nudged by the target with g = 0.8."""
    cell = neurons("out", 2, (soma(leak=0.1),))
    nudge = nudging("out.soma", 0.8, form=form, e_exc=4.0, e_inh=-1.0)
    return Simulator(network((inputs("x", 1), cell), (), (nudge,)))


@pytest.mark.parametrize("form", ["current", "conductance"])
def test_the_target_nudges_the_output_only_when_teaching(form):
    taught, free = teacher(form), teacher(form)
    target = np.array([1.0, 0.1])

    taught.step(np.zeros(1), target, teach=True)
    free.step(np.zeros(1), target, teach=False)

    np.testing.assert_allclose(taught.variable("out.soma"), DT * 0.8 * target)
    np.testing.assert_array_equal(free.variable("out.soma"), np.zeros(2))


def test_the_conductance_form_is_the_current_form_written_with_reversals():
    sim = teacher("conductance")
    u = np.array([0.5, -0.25])
    sim.set_state({**sim.state(), "out.soma": u})
    target = np.array([1.0, 0.1])

    sim.step(np.zeros(1), target, teach=True)

    e_exc, e_inh, g = 4.0, -1.0, 0.8
    g_exc = g * (target - e_inh) / (e_exc - e_inh)
    g_inh = -g * (target - e_exc) / (e_exc - e_inh)
    current = 0.1 * (0.0 - u) + g_exc * (e_exc - u) + g_inh * (e_inh - u)
    np.testing.assert_allclose(sim.variable("out.soma"), u + DT * current, rtol=1e-13)


def test_a_nudging_from_a_population_follows_its_potential_one_to_one():
    upper = neurons("upper", 2, (soma(leak=0.0),))
    inter = neurons("inter", 2, (soma(leak=0.1),))
    nudge = nudging("inter.soma", 0.8, source="upper.soma")
    sim = Simulator(network((inputs("x", 1), upper, inter), (), (nudge,)))
    u_upper = np.array([2.0, -1.0])
    sim.set_state({**sim.state(), "upper.soma": u_upper})

    sim.step(np.zeros(1), teach=False)

    np.testing.assert_allclose(sim.variable("inter.soma"), DT * 0.8 * u_upper)


def test_the_exponential_update_is_exact_for_inputs_held_over_the_step():
    cell = neurons(
        "cell",
        3,
        (soma(leak=0.1, capacitance=0.5), dendrite("basal")),
        (coupling("basal", "soma", 1.5),),
    )
    sim = Simulator(
        network(
            (inputs("x", 3), cell),
            (projection("W", "x", "cell.basal", uniform(4)),),
            integration="exponential",
        )
    )
    pattern = np.array([0.3, 0.6, 0.9])
    u = np.array([0.5, 0.0, -0.5])
    sim.set_state({**sim.state(), "cell.soma": u})

    sim.step(pattern)

    v = sim.weights()["W"] @ pattern
    conductance = 0.1 + 1.5
    u_inf = 1.5 * v / conductance
    expected = u_inf + (u - u_inf) * np.exp(-DT * conductance / 0.5)
    np.testing.assert_allclose(sim.variable("cell.soma"), expected, rtol=1e-13)


def test_the_input_follows_the_pattern_through_its_low_pass():
    cell = neurons("cell", 1, (soma(),))
    sim = Simulator(
        network((inputs("x", 2), cell), protocol_=protocol(pattern=1.0, lowpass=2.0))
    )
    pattern = np.array([1.0, -2.0])

    sim.step(pattern)
    sim.step(pattern)

    gain = DT / 2.0
    first = gain * pattern
    np.testing.assert_allclose(sim.variable("x.rate"), first + gain * (pattern - first))


def test_a_source_compartment_that_is_a_dendrite_is_refused():
    source = neurons("src", 2, (soma(), dendrite("basal")))
    cell = neurons("cell", 2, (soma(),))
    bad = projection("W", "src", "cell.soma", constant(1.0), source_var="basal")

    with pytest.raises(SimError, match="src.basal is a dendrite"):
        Simulator(network((inputs("x", 1), source, cell), (bad,)))


def test_a_current_expression_with_the_exponential_update_is_refused():
    with_current = soma().model_copy(update={"current": ref("soma")})
    cell = neurons("cell", 1, (with_current,))

    with pytest.raises(SimError, match="current"):
        Simulator(network((inputs("x", 1), cell), integration="exponential"))
