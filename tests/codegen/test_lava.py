"""The generated packages run in Lava, agree with numpy, and fail cleanly.

Every test here starts Lava's worker processes, has a timeout, and leaves the
``with`` block (or closes the network) so that the workers stop.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import threading
import time
from types import ModuleType

import numpy as np
import pytest

from mcdl import ir
from mcdl.data import bars as bars_data
from mcdl.init import initial_weights
from mcdl.sim import Simulator

pytestmark = [pytest.mark.lava, pytest.mark.slow]


@pytest.fixture(scope="module")
def fused(build) -> ModuleType:
    from .conftest import bars_network

    return build(bars_network(), "fused")


@pytest.fixture(scope="module")
def layered(build) -> ModuleType:
    from .conftest import bars_network

    return build(bars_network(), "layered")


@pytest.fixture
def no_leaked_workers():
    before = set(multiprocessing.active_children())
    yield
    deadline = time.monotonic() + 5.0
    while set(multiprocessing.active_children()) - before:
        assert time.monotonic() < deadline, "Lava's worker processes were left running"
        time.sleep(0.05)


def numpy_bars(
    network: ir.Network,
    patterns: np.ndarray,
    targets: np.ndarray,
    learn: tuple[str, ...],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The bars network written out from docs/semantics.md, noise and all.

    Independent of the generated code and of ``mcdl.sim``: the equations are
    those of model.md with the values of the bars spec, and only the numbers
    (conductances, sizes, time constants) are read from the IR.
    """
    dt, protocol = network.dt, network.protocol
    steps = round(protocol.pattern / dt)
    settle = round(protocol.settle / dt)
    last = round(protocol.readout / dt)
    pyr, inter, out = (
        network.population(n) for n in ("hidden.pyr", "hidden.inter", "output.pyr")
    )
    g = {
        (p.name, c.source): c.conductance
        for p in (pyr, inter, out)
        for c in p.couplings
    }
    leak = pyr.compartment("soma").leak
    sigma = pyr.compartment("soma").noise
    g_som = network.nudgings[0].conductance
    eta = {"W_up1": 0.02, "W_up2": 0.01, "W_IP1": 0.02, "W_PI1": 0.02}
    tau = network.projection("W_up1").plasticity.lowpass

    def phi(u: np.ndarray) -> np.ndarray:
        return np.log(1.0 + np.exp(u))

    w = initial_weights(network)
    d = {name: np.zeros_like(w[name]) for name in eta}
    u_p, u_i, u_o = np.zeros(pyr.size), np.zeros(inter.size), np.zeros(out.size)
    x, t = np.zeros(9), np.zeros(3)
    generators = [np.random.default_rng([network.seed, i]) for i in (1, 2, 3)]
    g_b, g_a = g["hidden.pyr", "basal"], g["hidden.pyr", "apical"]
    g_d, g_out = g["hidden.inter", "dendrite"], g["output.pyr", "basal"]
    readouts = []
    for pattern, target in zip(patterns, targets, strict=True):
        noise = [
            sigma * math.sqrt(dt) * r.standard_normal((steps, n))
            for r, n in zip(generators, (30, 3, 3), strict=True)
        ]
        total = np.zeros(3)
        for k in range(steps):
            x = x + dt / protocol.lowpass * (pattern - x)
            t = t + dt / protocol.lowpass * (target - t)
            r_p, r_i, r_o = phi(u_p), phi(u_i), phi(u_o)
            v_b = w["W_up1"] @ x
            v_a = w["W_down1"] @ r_o + w["W_PI1"] @ r_i
            v_d = w["W_IP1"] @ r_p
            v_o = w["W_up2"] @ r_p
            new_p = (
                u_p
                + dt * (-leak * u_p + g_b * (v_b - u_p) + g_a * (v_a - u_p))
                + noise[0][k]
            )
            new_i = (
                u_i
                + dt * (-leak * u_i + g_d * (v_d - u_i) + g_som * (u_o - u_i))
                + noise[1][k]
            )
            new_o = (
                u_o
                + dt * (-leak * u_o + g_out * (v_o - u_o) + g_som * (t - u_o))
                + noise[2][k]
            )
            if k >= settle:
                change = {
                    "W_up1": np.outer(
                        phi(u_p) - phi(g_b / (leak + g_b + g_a) * v_b), x
                    ),
                    "W_up2": np.outer(
                        phi(u_o) - phi(g_out / (leak + g_out) * v_o), r_p
                    ),
                    "W_IP1": np.outer(phi(u_i) - phi(g_d / (leak + g_d) * v_d), r_p),
                    "W_PI1": np.outer(-v_a, r_i),
                }
                for name in learn:
                    w[name] += dt * d[name]
                    d[name] += dt / tau * (eta[name] * change[name] - d[name])
            u_p, u_i, u_o = new_p, new_i, new_o
            if k >= steps - last:
                total += u_o
        readouts.append(total / last)
    state = {"hidden.pyr.soma": u_p, "hidden.inter.soma": u_i, "output.pyr.soma": u_o}
    state.update(w)
    state.update({f"D:{name}": value for name, value in d.items()})
    return np.array(readouts), state


def assert_close(ours: dict, reference: dict, tolerance: float) -> None:
    for name, value in reference.items():
        np.testing.assert_allclose(
            ours[name], value, rtol=0, atol=tolerance, err_msg=name
        )


@pytest.mark.timeout(240)
@pytest.mark.parametrize("layout", ["fused", "layered"])
def test_a_few_bars_patterns_match_numpy(
    request, layout: str, no_leaked_workers
) -> None:
    package = request.getfixturevalue(layout)
    from .conftest import bars_network

    network = bars_network()
    data = bars_data(samples_per_class=1, seed=0)
    count = 4 if layout == "fused" else 2
    patterns, labels = data.inputs[:count], data.labels[:count]
    targets = package.target_potentials(labels)
    phase = network.protocol.phases[0]

    with package.Network() as lava:
        readouts = lava.train(patterns, labels)
        state = lava.state()

    expected, expected_state = numpy_bars(network, patterns, targets, phase.learn)
    np.testing.assert_allclose(readouts, expected, rtol=0, atol=1e-9)
    assert_close(state, expected_state, 1e-9)
    reference = Simulator(network)
    np.testing.assert_allclose(
        readouts, reference.train(patterns, labels, phase), rtol=0, atol=1e-12
    )
    assert_close(state, reference.state(), 1e-12)


@pytest.mark.timeout(240)
def test_evaluation_probes_and_weights_in_lava(
    fused, tmp_path, no_leaked_workers
) -> None:
    from .conftest import bars_network

    network = bars_network()
    reference = Simulator(network)
    data = bars_data(samples_per_class=1, seed=1)
    with fused.Network(probe=("hidden.pyr.soma",), probe_every=10) as lava:
        presentations = []
        lava.train(
            data.inputs, data.labels, callback=lambda i, p: presentations.append(p)
        )
        reference.train(data.inputs, data.labels, "task")
        before = lava.state()

        evaluation = lava.evaluate(data.inputs, data.labels)

        expected = reference.evaluate(data.inputs, data.labels)
        assert evaluation.loss == pytest.approx(expected.loss, abs=1e-12)
        assert evaluation.accuracy == expected.accuracy
        assert_close(lava.state(), before, 0.0)
        assert len(presentations) == 3
        assert presentations[-1].probes["hidden.pyr.soma"].shape == (100, 30)
        np.testing.assert_allclose(
            presentations[-1].potentials["hidden.pyr.soma"],
            before["hidden.pyr.soma"],
            rtol=0,
            atol=0,
        )

        path = tmp_path / "weights.npz"
        lava.save_weights(path)
        changed = {name: value + 1.0 for name, value in lava.weights().items()}
        lava.set_weights(changed)
        assert_close(lava.weights(), changed, 0.0)
        lava.load_weights(path)
        assert_close(lava.weights(), {k: before[k] for k in changed}, 0.0)
        rates = lava.rates()
        np.testing.assert_allclose(
            rates["hidden.pyr.rate"], np.logaddexp(0, before["hidden.pyr.soma"])
        )

    with fused.Network(weights=path) as again:
        assert_close(again.weights(), {k: before[k] for k in changed}, 0.0)


def test_wrong_weights_are_refused_by_name(fused) -> None:
    weights = initial_weights(fused_network())
    with pytest.raises(fused.WeightsError, match="'W_up3' is not a projection"):
        fused.Network(weights={"W_up3": weights["W_up1"]})
    with pytest.raises(fused.WeightsError, match=r"'W_up1' have shape \(9, 30\)"):
        fused.Network(weights={"W_up1": weights["W_up1"].T})


def fused_network() -> ir.Network:
    from .conftest import bars_network

    return bars_network()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("layout", ["fused", "layered"])
def test_a_failure_in_a_process_reaches_the_caller(
    request, layout: str, monkeypatch, no_leaked_workers
) -> None:
    package = request.getfixturevalue(layout)
    leaves = [
        model
        for name, model in vars(package.models).items()
        if name.endswith(("FusedModel", "LayerModel"))
    ]

    def explode(self, *args) -> None:
        raise FloatingPointError("the soma exploded")

    # Lava forks its workers, so they inherit the patched model.
    monkeypatch.setattr(leaves[-1], "_present", explode)
    data = bars_data(samples_per_class=2, seed=0)
    network = package.Network()
    started = time.monotonic()
    with pytest.raises(
        package.NetworkError, match="FloatingPointError.*the soma exploded"
    ):
        with network:
            network.train(data.inputs, data.labels)
    assert time.monotonic() - started < 10.0
    assert network.closed
    with pytest.raises(package.NetworkError, match="closed"):
        network.weights()


@pytest.mark.timeout(60)
def test_a_worker_that_dies_is_reported(fused, no_leaked_workers) -> None:
    data = bars_data(samples_per_class=20, seed=0)
    with fused.Network() as network:
        victim = network._runtime._workers()[1]
        threading.Timer(0.3, os.kill, (victim.pid, signal.SIGKILL)).start()
        with pytest.raises(fused.NetworkError, match="exited with code -9"):
            network.train(data.inputs, data.labels)


@pytest.mark.timeout(60)
def test_an_exception_in_a_callback_leaves_the_network_usable(
    fused, no_leaked_workers
) -> None:
    data = bars_data(samples_per_class=3, seed=0)

    def stop_early(index: int, presentation) -> None:
        if index == 2:
            raise ValueError("enough")

    with fused.Network() as network:
        with pytest.raises(ValueError, match="enough"):
            network.train(data.inputs, data.labels, callback=stop_early)
        assert not network.closed
        with pytest.raises(RuntimeError, match="busy"):
            network.train(
                data.inputs, data.labels, callback=lambda i, p: network.state()
            )
        assert not network.closed
        assert network.evaluate(data.inputs, data.labels).loss >= 0.0


@pytest.mark.timeout(60)
def test_ctrl_c_stops_the_workers(fused, no_leaked_workers) -> None:
    data = bars_data(samples_per_class=20, seed=0)
    network = fused.Network()
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        with network:
            network.train(data.inputs, data.labels)
    assert network.closed


@pytest.mark.timeout(120)
def test_a_protocol_phase_runs_as_the_reference_runs_it(
    fused, no_leaked_workers
) -> None:
    network = fused_network()
    data = bars_data(samples_per_class=1, seed=2)
    with fused.Network() as lava:
        (result,) = lava.run_protocol((data.inputs, data.labels))
    (expected,) = Simulator(network).run_protocol((data.inputs, data.labels))
    assert result.phase == expected.phase
    np.testing.assert_allclose(result.readouts, expected.readouts, rtol=0, atol=1e-12)


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "name",
    ["exponential and conductance", "currents and one-to-one", "mixed plasticity"],
)
def test_the_layered_layout_runs_every_feature(
    build, name: str, no_leaked_workers
) -> None:
    from .test_numerics import network_named

    network = network_named(name)
    package = build(network, "layered")
    data = bars_data(samples_per_class=1, seed=3)
    patterns, labels = data.inputs[:1], data.labels[:1]
    with package.Network() as lava:
        readouts = lava.train(patterns, labels)
        state = lava.state()
    reference = Simulator(network)
    expected = reference.train(patterns, labels, network.protocol.phases[0])
    np.testing.assert_allclose(readouts, expected, rtol=0, atol=1e-12)
    assert_close(state, reference.state(), 1e-12)
