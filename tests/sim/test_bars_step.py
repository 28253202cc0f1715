"""The bars network steps exactly as model.md's equations, written out by hand.

The computation below is independent of the simulator: plain numpy, with the
parameters of model.md §4 typed in, following docs/semantics.md's order (the
filters first; everything else from step-``n`` values; ``W`` moves with the
trace of step ``n``).
"""

from __future__ import annotations

import numpy as np

from mcdl import data
from mcdl.init import initial_weights
from mcdl.sim import Simulator

from .networks import bars_network

DT, TAU_0, TAU_W = 0.1, 3.0, 30.0
G_LK, G_B, G_A, G_D, G_SOM, SIGMA = 0.1, 1.0, 0.8, 1.0, 0.8, 0.1
ETA_UP1, ETA_UP2, ETA_IP, ETA_PI = 0.02, 0.01, 0.02, 0.02


def phi(u: np.ndarray) -> np.ndarray:
    """The soft-ReLU of the bars task: log(1 + exp(u))."""
    return np.log(1.0 + np.exp(u))


class ByHand:
    """The bars microcircuit of model.md §1-2, one Euler step at a time."""

    def __init__(self) -> None:
        network = bars_network()
        self.w = {name: w.copy() for name, w in initial_weights(network).items()}
        self.d = {name: np.zeros_like(w) for name, w in self.w.items()}
        self.x, self.t = np.zeros(9), np.zeros(3)
        self.u_p, self.u_i, self.u_o = np.zeros(30), np.zeros(3), np.zeros(3)
        # The noise generators of hidden.pyr, hidden.inter and output.pyr:
        # populations 1, 2 and 3 of the network, whose seed is 1.
        self.rng = [np.random.default_rng([network.seed, i]) for i in (1, 2, 3)]

    def step(self, p, y, plastic: bool) -> None:
        w = self.w
        self.x = self.x + DT / TAU_0 * (p - self.x)
        self.t = self.t + DT / TAU_0 * (y - self.t)
        x, t, u_p, u_i, u_o = self.x, self.t, self.u_p, self.u_i, self.u_o

        r_p, r_i, r_o = phi(u_p), phi(u_i), phi(u_o)
        v_b = w["W_up1"] @ x
        v_a = w["W_down1"] @ r_o + w["W_PI1"] @ r_i
        v_d = w["W_IP1"] @ r_p
        v_ob = w["W_up2"] @ r_p

        du_p = -G_LK * u_p + G_B * (v_b - u_p) + G_A * (v_a - u_p)
        du_i = -G_LK * u_i + G_D * (v_d - u_i) + G_SOM * (u_o - u_i)
        du_o = -G_LK * u_o + G_B * (v_ob - u_o) + G_SOM * (t - u_o)

        if plastic:
            v_hat_b = G_B / (G_LK + G_B + G_A) * v_b
            v_hat_ob = G_B / (G_LK + G_B) * v_ob
            v_hat_d = G_D / (G_LK + G_D) * v_d
            updates = {
                "W_up1": ETA_UP1 * np.outer(phi(u_p) - phi(v_hat_b), x),
                "W_up2": ETA_UP2 * np.outer(phi(u_o) - phi(v_hat_ob), r_p),
                "W_IP1": ETA_IP * np.outer(phi(u_i) - phi(v_hat_d), r_p),
                "W_PI1": ETA_PI * np.outer(0.0 - v_a, r_i),
            }
            for name, e in updates.items():
                w[name] = w[name] + DT * self.d[name]
                self.d[name] = self.d[name] + DT / TAU_W * (e - self.d[name])

        scale = SIGMA * np.sqrt(DT)
        self.u_p = u_p + DT * du_p + scale * self.rng[0].standard_normal(30)
        self.u_i = u_i + DT * du_i + scale * self.rng[1].standard_normal(3)
        self.u_o = u_o + DT * du_o + scale * self.rng[2].standard_normal(3)

    def state(self) -> dict[str, np.ndarray]:
        return {
            "hidden.pyr.soma": self.u_p,
            "hidden.inter.soma": self.u_i,
            "output.pyr.soma": self.u_o,
            "x.rate": self.x,
            "output.pyr.target": self.t,
            **self.w,
            **{f"D:{name}": d for name, d in self.d.items() if name != "W_down1"},
        }


def test_bars_steps_as_the_model_equations_written_out():
    sim, by_hand = Simulator(bars_network()), ByHand()
    pattern = data.bars(samples_per_class=1).inputs[0]
    target = np.array([1.0, 0.1, 0.1])

    for k in range(400):
        plastic = k >= 100
        sim.step(pattern, target, teach=True, plastic=plastic, noise=True)
        by_hand.step(pattern, target, plastic)

    expected = by_hand.state()
    # The by-hand network keeps no generator states; only the values compare.
    state = {k: v for k, v in sim.state().items() if not k.startswith("rng:")}
    assert set(state) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(
            state[name], value, rtol=1e-10, atol=1e-13, err_msg=name
        )


def test_a_bars_pattern_is_the_model_equations_for_the_pattern_time():
    sim, by_hand = Simulator(bars_network()), ByHand()
    pattern = data.bars(samples_per_class=1).inputs[1]
    target = np.array([0.1, 1.0, 0.1])
    learn = ("W_up1", "W_up2", "W_IP1", "W_PI1")

    readout = sim.present(pattern, target, teach=True, learn=learn, noise=True)

    total = np.zeros(3)
    for k in range(1000):
        by_hand.step(pattern, target, plastic=k >= 200)
        if k >= 800:
            total = total + by_hand.u_o
    np.testing.assert_allclose(readout, total / 200, rtol=1e-10)
    for name, value in by_hand.state().items():
        np.testing.assert_allclose(
            sim.state()[name], value, rtol=1e-10, atol=1e-13, err_msg=name
        )
