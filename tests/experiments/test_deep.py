"""Microcircuits with one, two and three hidden layers, on every engine.

The specs come from ``mcdl.experiments.deep.deep_spec``; patterns are 3 ms
(30 steps) so that the Lava runs stay short.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcdl.compiler import compile_file
from mcdl.experiments.deep import deep_spec
from mcdl.experiments.steady import steady_state
from mcdl.init import initial_weights
from mcdl.sim import Recorder, Simulator
from mcdl.train import engines

SIZES = {1: (9, 12, 3), 2: (9, 12, 8, 3), 3: (9, 12, 8, 6, 3)}


def write_spec(folder: Path, depth: int) -> Path:
    path = folder / f"deep{depth}.mcdl"
    text = deep_spec(
        SIZES[depth],
        name=f"deep{depth}",
        pattern="3 ms",
        settle="1 ms",
        readout="1 ms",
        eta_up=0.05,
        eta_lateral=0.05,
    )
    path.write_text(text)
    return path


def patterns(depth: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(depth)
    return rng.random((count, SIZES[depth][0])), rng.integers(0, 3, count)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_deep_spec_has_every_layer_and_its_lateral_circuit(tmp_path, depth):
    result = compile_file(write_spec(tmp_path, depth))

    assert result.ok, [d.message for d in result.diagnostics]
    network = result.network
    hidden = [p for p in network.populations if p.name.endswith(".pyr")][:-1]
    assert [p.size for p in hidden] == list(SIZES[depth][1:-1])
    nudged = [n for n in network.nudgings if n.source is not None]
    assert len(nudged) == depth
    plastic = {p.name for p in network.projections if p.plastic}
    assert plastic == {f"W_up{k}" for k in range(1, depth + 2)} | {
        f"W_{kind}{k}" for kind in ("IP", "PI") for k in range(1, depth + 1)
    }


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_the_self_predicting_state_silences_every_apical_dendrite(tmp_path, depth):
    # At the fixed point: below the top hidden layer the interneurons follow
    # their pyramidal neurons only once these have settled.
    network = compile_file(write_spec(tmp_path, depth)).network
    simulator = Simulator(steady_state(network, relax=200), base_dir=tmp_path)
    apical = [f"h{k}.pyr.apical" for k in range(1, depth + 1)]
    record = Recorder(apical, every="pattern")

    inputs, labels = patterns(depth, 4)
    simulator.evaluate(inputs, labels, record=record)

    for name, values in record.arrays().items():
        assert np.abs(values).max() < 1e-10, name


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_teaching_reaches_the_apical_dendrites_of_every_hidden_layer(tmp_path, depth):
    network = compile_file(write_spec(tmp_path, depth)).network
    simulator = Simulator(network, base_dir=tmp_path)
    apical = [f"h{k}.pyr.apical" for k in range(1, depth + 1)]
    record = Recorder(apical, every="pattern")

    inputs, labels = patterns(depth, 2)
    simulator.train(inputs, labels, "task", record=record)

    for name, values in record.arrays().items():
        assert np.abs(values[-1]).max() > 1e-4, name


@pytest.mark.lava
@pytest.mark.timeout(240)
@pytest.mark.parametrize("layout", ["fused", "layered"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_lava_agrees_with_the_simulator(tmp_path, depth, layout):
    spec = write_spec(tmp_path, depth)
    network = compile_file(spec).network
    inputs, labels = patterns(depth, 3)
    simulator = Simulator(network, base_dir=tmp_path)
    package = engines.build_package(network, spec, tmp_path / "build", layout)
    module = engines.load_package(package)

    with module.Network() as net:
        lava_readouts = net.train(inputs, labels, phase="task")
        lava_state = net.state()
        lava_validation = net.predict(inputs)
    sim_readouts = simulator.train(inputs, labels, "task")
    sim_state = simulator.state()
    sim_validation = simulator.evaluate(inputs, labels).readouts

    np.testing.assert_allclose(lava_readouts, sim_readouts, rtol=0, atol=1e-9)
    np.testing.assert_allclose(lava_validation, sim_validation, rtol=0, atol=1e-9)
    assert set(sim_state) <= set(lava_state)
    for name, value in sim_state.items():
        np.testing.assert_allclose(lava_state[name], value, rtol=0, atol=1e-9)
    start = initial_weights(network, tmp_path)
    for k in range(1, depth + 2):
        assert not np.array_equal(sim_state[f"W_up{k}"], start[f"W_up{k}"])


@pytest.mark.lava
@pytest.mark.timeout(240)
@pytest.mark.parametrize("layout", ["fused", "layered"])
def test_the_digits_spec_runs_the_same_on_lava(layout, tmp_path):
    from mcdl import data
    from mcdl.experiments.common import SPECS

    spec = SPECS / "digits.mcdl"
    network = compile_file(spec).network
    train, _ = data.digits()
    inputs, labels = train.inputs[:2], train.labels[:2]
    package = engines.build_package(network, spec, tmp_path, layout)
    module = engines.load_package(package)

    with module.Network() as net:
        lava = net.train(inputs, labels, phase="task")
        lava_state = net.state()
    simulator = Simulator(network)
    sim = simulator.train(inputs, labels, "task")

    np.testing.assert_allclose(lava, sim, rtol=0, atol=1e-9)
    for name, value in simulator.state().items():
        np.testing.assert_allclose(lava_state[name], value, rtol=0, atol=1e-9)
