"""Noise: one generator per population, reproducible, drawn only when on."""

from __future__ import annotations

import numpy as np

from mcdl.sim import Simulator

from .networks import inputs, network, neurons, nudging, soma

DT, SEED, SIGMA = 0.1, 7, 0.5


def two_noisy_populations(sigma_b: float = SIGMA) -> Simulator:
    """Uncoupled somas: ``a`` with two noisy compartments, ``b`` with one.

    ``b`` is the output, nudged by the target, which none of the tests shows.
    """
    a = neurons("a", 3, (soma(noise=SIGMA), soma(noise=SIGMA, name="shaft")))
    b = neurons("b", 2, (soma(noise=sigma_b),))
    teacher = nudging("b.soma", 0.8)
    return Simulator(network((inputs("x", 1), a, b), (), (teacher,), seed=SEED))


def run(sim: Simulator, steps: int, noise: bool = True) -> None:
    for _ in range(steps):
        sim.step(np.zeros(1), noise=noise)


def test_noise_is_reproducible():
    first, second = two_noisy_populations(), two_noisy_populations()

    run(first, 20)
    run(second, 20)

    for name, value in first.state().items():
        np.testing.assert_array_equal(second.state()[name], value)


def test_each_population_draws_from_its_own_generator_in_declaration_order():
    sim = two_noisy_populations()
    steps = 20

    run(sim, steps)

    # Population i of the network draws from default_rng([seed, i]); per step
    # one block per noisy compartment, in the order they are declared.
    scale = SIGMA * np.sqrt(DT)
    rng_a, rng_b = (np.random.default_rng([SEED, i]) for i in (1, 2))
    soma_a, shaft_a, soma_b = np.zeros(3), np.zeros(3), np.zeros(2)
    for _ in range(steps):
        soma_a = soma_a + DT * (-0.1 * soma_a) + scale * rng_a.standard_normal(3)
        shaft_a = shaft_a + DT * (-0.1 * shaft_a) + scale * rng_a.standard_normal(3)
        soma_b = soma_b + DT * (-0.1 * soma_b) + scale * rng_b.standard_normal(2)
    np.testing.assert_allclose(sim.variable("a.soma"), soma_a, rtol=1e-13)
    np.testing.assert_allclose(sim.variable("a.shaft"), shaft_a, rtol=1e-13)
    np.testing.assert_allclose(sim.variable("b.soma"), soma_b, rtol=1e-13)


def test_a_population_s_noise_does_not_depend_on_another_s():
    noisy, quiet = two_noisy_populations(), two_noisy_populations(sigma_b=0.0)

    run(noisy, 20)
    run(quiet, 20)

    np.testing.assert_array_equal(noisy.variable("a.soma"), quiet.variable("a.soma"))
    np.testing.assert_array_equal(quiet.variable("b.soma"), np.zeros(2))


def test_with_noise_off_nothing_is_drawn():
    delayed, fresh = two_noisy_populations(), two_noisy_populations()

    run(delayed, 5, noise=False)
    run(delayed, 1)
    run(fresh, 1)

    np.testing.assert_array_equal(delayed.variable("b.soma"), fresh.variable("b.soma"))


def test_a_pattern_draws_the_same_noise_as_its_steps_one_by_one():
    stepped, presented = two_noisy_populations(), two_noisy_populations()
    steps = presented.steps_per_pattern

    run(stepped, steps)
    presented.present(np.zeros(1), noise=True)

    np.testing.assert_array_equal(
        stepped.variable("a.shaft"), presented.variable("a.shaft")
    )
