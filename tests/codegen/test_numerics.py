"""The generated process model computes what the reference simulator computes.

These tests drive the fused model in this process, without Lava's runtime:
the model is built from its process's parameters and Vars as Lava would, and
given commands one by one. ``test_lava.py`` runs the real thing.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from mcdl import ir
from mcdl.data import bars as bars_data
from mcdl.sim import Simulator

from .conftest import bars_network, variant
from .test_render import one_to_one, with_current


class InProcess:
    """A fused process model run without Lava, one command at a time."""

    def __init__(self, package: ModuleType, probe: tuple[str, ...] = ()) -> None:
        self.package = package
        process = package.process
        (fused,) = [
            value
            for name, value in vars(process).items()
            if name.endswith("Fused") and isinstance(value, type)
        ]
        proc = fused(weights=package.initial_weights(), probe=probe, probe_every=7)
        (model,) = [
            value
            for name, value in vars(package.models).items()
            if name.endswith("FusedModel")
        ]
        self.model = model(proc.proc_params)
        for var in proc.vars:
            setattr(self.model, var.name, np.array(var.init, dtype=np.float64))

    def command(self, command: np.ndarray) -> np.ndarray:
        model = self.model
        record = model._header(command)
        model._carry_out(command, record, lambda: model._present(command, record))
        return record

    def present(self, patterns, targets, *, teach, learn, noise, evaluate=False):
        network, process = self.package.network, self.package.process
        settings = network._Settings(evaluate, teach, noise, tuple(learn))
        flags = np.array([name in learn for name in process.PLASTIC], dtype=float)
        readouts = []
        for index, pattern in enumerate(patterns):
            target = None if targets is None else targets[index]
            command = network.Network._pattern_command(pattern, target, settings, flags)
            record = self.command(command)
            readouts.append(record[process.REC_READOUT : process.REC_POTENTIALS])
        return np.array(readouts)

    def resume(self) -> None:
        self.command(self.package.network._command(self.package.process.OP_RESUME))

    def state(self) -> dict[str, np.ndarray]:
        state = {}
        for name, variable, _, _ in self.package.process.STATE:
            value = getattr(self.model, variable)
            if isinstance(value, np.random.Generator):
                value = self.package.models._words(value)
            state[name] = np.array(value)
        return state


def exponential(data: dict) -> None:
    data["integration"] = "exponential"


def conductance(data: dict) -> None:
    for nudging in data["nudgings"]:
        nudging.update(form="conductance", e_exc=1.5, e_inh=-0.5)


def exponential_conductance(data: dict) -> None:
    exponential(data)
    conductance(data)
    data["projections"].append(one_to_one(data))


def unfiltered(data: dict) -> None:
    data["protocol"]["lowpass"] = 0.0
    for projection in data["projections"]:
        if projection["plasticity"]:
            projection["plasticity"]["lowpass"] = None


def mixed_plasticity(data: dict) -> None:
    """Low-passes of two lengths, one projection without, and two that learn."""
    lowpass = {"W_up1": 30.0, "W_up2": None, "W_IP1": 10.0, "W_PI1": 30.0}
    for projection in data["projections"]:
        if projection["plasticity"]:
            projection["plasticity"]["lowpass"] = lowpass[projection["name"]]
    data["protocol"]["phases"][0]["learn"] = ["W_up1", "W_up2", "W_PI1"]


NETWORKS: dict[str, Callable[[dict], None] | None] = {
    "bars": None,
    "exponential": exponential,
    "conductance": conductance,
    "exponential and conductance": exponential_conductance,
    "no low-pass": unfiltered,
    "currents and one-to-one": with_current,
    "mixed plasticity": mixed_plasticity,
}


def network_named(name: str) -> ir.Network:
    change = NETWORKS[name]
    return bars_network() if change is None else variant(change)


def assert_same_state(ours: dict, reference: dict, tolerance: float = 1e-12) -> None:
    assert set(ours) == set(reference)
    for name, value in reference.items():
        np.testing.assert_allclose(
            ours[name], value, rtol=0, atol=tolerance, err_msg=name
        )


@pytest.mark.parametrize("name", list(NETWORKS))
def test_training_matches_the_reference(build, name: str) -> None:
    network = network_named(name)
    package = build(network)
    ours = InProcess(package)
    reference = Simulator(network)
    data = bars_data(samples_per_class=1, seed=4)
    phase = network.protocol.phases[0]
    targets = package.target_potentials(data.labels)

    readouts = ours.present(
        data.inputs, targets, teach=phase.teach, learn=phase.learn, noise=phase.noise
    )

    expected = reference.train(data.inputs, targets, phase)
    np.testing.assert_allclose(readouts, expected, rtol=0, atol=1e-12)
    assert_same_state(ours.state(), reference.state())


def test_evaluation_leaves_the_state_as_it_found_it(build, bars: ir.Network) -> None:
    package = build(bars)
    ours = InProcess(package)
    reference = Simulator(bars)
    data = bars_data(samples_per_class=1, seed=5)
    targets = package.target_potentials(data.labels)
    phase = bars.protocol.phases[0]
    ours.present(data.inputs, targets, teach=True, learn=phase.learn, noise=True)
    reference.train(data.inputs, targets, phase)
    before = ours.state()

    readouts = ours.present(
        data.inputs, None, teach=False, learn=(), noise=False, evaluate=True
    )
    ours.resume()

    evaluation = reference.evaluate(data.inputs, data.labels)
    np.testing.assert_allclose(readouts, evaluation.readouts, rtol=0, atol=1e-12)
    assert_same_state(ours.state(), before, tolerance=0)
    assert_same_state(ours.state(), reference.state())


def test_a_dump_and_a_load_move_the_whole_state(build, bars: ir.Network) -> None:
    package = build(bars)
    process, network = package.process, package.network
    ours = InProcess(package)
    data = bars_data(samples_per_class=1, seed=6)
    ours.present(data.inputs, None, teach=False, learn=(), noise=True)
    state = ours.state()
    chunks = -(-process.STATE_SIZE // process.CHUNK)
    vector = np.concatenate(
        [
            ours.command(network._command(process.OP_DUMP, index))[
                process.REC_PAYLOAD : process.REC_PAYLOAD + process.CHUNK
            ]
            for index in range(chunks)
        ]
    )[: process.STATE_SIZE]
    for name, _, offset, shape in process.STATE:
        size = int(np.prod(shape))
        np.testing.assert_array_equal(
            vector[offset : offset + size].reshape(shape), state[name]
        )

    fresh = InProcess(package)
    padded = np.zeros(chunks * process.CHUNK)
    padded[: process.STATE_SIZE] = vector
    for index in range(chunks):
        load = network._command(process.OP_LOAD, index)
        chunk = padded[index * process.CHUNK : (index + 1) * process.CHUNK]
        load[process.CMD_PAYLOAD : process.CMD_PAYLOAD + process.CHUNK] = chunk
        fresh.command(load)
    assert_same_state(fresh.state(), state, tolerance=0)


def test_probes_sample_the_potentials_at_the_end_of_steps(
    build, bars: ir.Network
) -> None:
    from mcdl.sim import Recorder

    package = build(bars)
    ours = InProcess(package, probe=("hidden.inter.soma", "output.pyr.soma"))
    reference = Simulator(bars)
    recorder = Recorder(["hidden.inter.soma", "output.pyr.soma"], every="step")
    pattern = bars_data(samples_per_class=1, seed=7).inputs[0]
    flags = np.zeros(len(package.process.PLASTIC))
    settings = package.network._Settings(False, False, True, ())
    command = package.network.Network._pattern_command(pattern, None, settings, flags)
    record = ours.command(command)
    reference.present(pattern, noise=True, record=recorder)

    network = package.Network.__new__(package.Network)
    network.probe, network.probe_every = ("hidden.inter.soma", "output.pyr.soma"), 7
    presentation = network._presentation(record)
    recorded = recorder.arrays()
    for name in network.probe:
        np.testing.assert_allclose(
            presentation.probes[name], recorded[name][6::7], rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            presentation.potentials[name], recorded[name][-1], rtol=0, atol=1e-12
        )


def test_a_pattern_of_noise_is_drawn_as_the_steps_would_draw_it() -> None:
    """Drawing a block for a whole pattern gives the numbers of step-wise draws."""
    whole = np.random.default_rng([1, 2]).standard_normal((50, 60))
    generator = np.random.default_rng([1, 2])
    steps = np.array([generator.standard_normal((1, 60))[0] for _ in range(50)])
    np.testing.assert_array_equal(whole, steps)
