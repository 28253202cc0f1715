"""Networks of any depth and projections of every kind, and what is refused."""

from __future__ import annotations

import numpy as np
import pytest

from mcdl import ir
from mcdl.sim import SimError, Simulator

from .networks import (
    SPAN,
    call,
    constant,
    coupling,
    dendrite,
    inputs,
    network,
    neurons,
    nudging,
    num,
    projection,
    ref,
    soma,
    uniform,
)

G_LK, G_B, G_A, G_D, G_SOM = 0.1, 1.0, 0.8, 1.0, 0.8


def soft_relu() -> ir.Expr:
    return call("soft_relu", ref("soma"), num(1.0), num(1.0), num(0.0))


def pyramidal(name: str, size: int, apical: bool = True) -> ir.Population:
    compartments = (soma(), dendrite("basal"))
    couplings = (coupling("basal", "soma", G_B),)
    if apical:
        compartments += (dendrite("apical"),)
        couplings += (coupling("apical", "soma", G_A),)
    return neurons(name, size, compartments, couplings, rate=soft_relu())


def interneuron(name: str, size: int) -> ir.Population:
    return neurons(
        name,
        size,
        (soma(), dendrite("dendrite")),
        (coupling("dendrite", "soma", G_D),),
        rate=soft_relu(),
    )


def self_predicting(source: str, factor: float) -> ir.SelfPredictingInit:
    return ir.SelfPredictingInit(span=SPAN, source=source, factor=factor)


def deep_network() -> ir.Network:
    """A 4-6-5-3 microcircuit with two hidden layers, self-predicting."""
    sizes = {"h1": 6, "h2": 5, "out": 3}
    # W_IP of layer k: g_B / (g_lk + g_B + g_A') * (g_lk + g_D) / g_D, with g_A'
    # the apical conductance of the layer above (0 for the output).
    lateral = {
        "h1": G_B / (G_LK + G_B + G_A) * (G_LK + G_D) / G_D,
        "h2": G_B / (G_LK + G_B) * (G_LK + G_D) / G_D,
    }
    populations = [inputs("x", 4)]
    projections = [projection("W_up_h1", "x", "h1.pyr.basal", uniform(1))]
    nudgings = [nudging("out.pyr.soma", G_SOM)]
    layers = ["h1", "h2", "out"]
    for k, layer in enumerate(layers[:-1]):
        above = layers[k + 1]
        populations += [
            pyramidal(f"{layer}.pyr", sizes[layer]),
            interneuron(f"{layer}.inter", sizes[above]),
        ]
        projections += [
            projection(
                f"W_up_{above}", f"{layer}.pyr", f"{above}.pyr.basal", uniform(10 + k)
            ),
            projection(
                f"W_down_{layer}",
                f"{above}.pyr",
                f"{layer}.pyr.apical",
                uniform(20 + k),
            ),
            projection(
                f"W_IP_{layer}",
                f"{layer}.pyr",
                f"{layer}.inter.dendrite",
                self_predicting(f"W_up_{above}", lateral[layer]),
            ),
            projection(
                f"W_PI_{layer}",
                f"{layer}.inter",
                f"{layer}.pyr.apical",
                self_predicting(f"W_down_{layer}", -1.0),
            ),
        ]
        nudgings.append(
            nudging(f"{layer}.inter.soma", G_SOM, source=f"{above}.pyr.soma")
        )
    populations.append(pyramidal("out.pyr", sizes["out"], apical=False))
    return network(tuple(populations), tuple(projections), tuple(nudgings))


def test_every_hidden_layer_of_a_deep_network_starts_self_predicting():
    sim = Simulator(deep_network())
    pattern = np.array([0.9, 0.1, 0.5, 0.3])

    for _ in range(1000):
        sim.step(pattern)

    for layer in ("h1", "h2"):
        assert np.abs(sim.variable(f"{layer}.pyr.apical")).max() < 1e-9
    upper = sim.variable("h2.pyr.soma")
    np.testing.assert_allclose(sim.variable("h1.inter.soma"), upper, atol=1e-9)


def test_a_one_to_one_projection_learns_elementwise_without_a_low_pass():
    cell = neurons(
        "cell", 3, (soma(), dendrite("basal")), (coupling("basal", "soma", 1.0),)
    )
    rule = binary_product(num(0.5), ref("pre.rate"), ref("post.soma"))
    link = projection("W", "x", "cell.basal", constant(1.0), one_to_one=True, rule=rule)
    sim = Simulator(network((inputs("x", 3), cell), (link,)))
    u = np.array([0.2, -0.4, 1.0])
    sim.set_state({**sim.state(), "cell.soma": u})
    pattern = np.array([1.0, 2.0, 3.0])

    sim.step(pattern, plastic=True)

    np.testing.assert_allclose(sim.weights()["W"], 1.0 + 0.1 * 0.5 * pattern * u)
    assert "D:W" not in sim.state()


def binary_product(*factors: ir.Expr) -> ir.Expr:
    product = factors[0]
    for factor in factors[1:]:
        product = ir.Binary(span=SPAN, op="*", left=product, right=factor)
    return product


def test_a_rule_may_read_the_weight_and_the_post_synaptic_rate():
    cell = neurons("cell", 2, (soma(), dendrite("basal")), rate=ref("soma"))
    decay = binary_product(num(-1.0), ref("w"), ref("post.rate"))
    link = projection("W", "x", "cell.basal", constant(2.0), rule=decay)
    sim = Simulator(network((inputs("x", 3), cell), (link,)))
    u = np.array([0.5, 0.25])
    sim.set_state({**sim.state(), "cell.soma": u})

    sim.step(np.zeros(3), plastic=True)

    np.testing.assert_allclose(
        sim.weights()["W"], 2.0 - 0.1 * 2.0 * u[:, None] * [1, 1, 1]
    )


def test_given_weights_replace_the_initial_ones():
    cell = neurons("cell", 2, (soma(), dendrite("basal")))
    link = projection("W", "x", "cell.basal", uniform(1))
    chosen = np.arange(6.0).reshape(2, 3)

    sim = Simulator(network((inputs("x", 3), cell), (link,)), weights={"W": chosen})

    np.testing.assert_array_equal(sim.weights()["W"], chosen)
    with pytest.raises(SimError, match=r"shape \(3, 2\)"):
        Simulator(network((inputs("x", 3), cell), (link,)), weights={"W": chosen.T})


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("cell.shaft", "cell has no compartment 'shaft'"),
        ("ghost.soma", "'ghost' is not a population"),
        ("x.soma", "targets the input 'x'"),
    ],
)
def test_a_projection_onto_nothing_is_refused(target, message):
    cell = neurons("cell", 2, (soma(),))
    link = projection("W", "x", target, constant(0.0))

    with pytest.raises(SimError, match=message):
        Simulator(network((inputs("x", 1), cell), (link,), output="cell"))


def test_a_nudging_onto_a_dendrite_is_refused():
    cell = neurons("cell", 2, (soma(), dendrite("basal")))

    with pytest.raises(SimError, match="cell.basal is a dendrite"):
        Simulator(network((inputs("x", 1), cell), (), (nudging("cell.basal", 1.0),)))


def test_a_rule_that_reads_an_unknown_name_is_refused():
    cell = neurons("cell", 2, (soma(), dendrite("basal")))
    link = projection("W", "x", "cell.basal", constant(0.0), rule=ref("pre.soma"))

    with pytest.raises(SimError, match="'pre.soma'.* is not pre.rate"):
        Simulator(network((inputs("x", 1), cell), (link,)))
