"""Checking generated Lava code against the reference simulator, ``mcdl.sim``.

Both run the same network from the same initial weights on the same training
patterns, with noise as the protocol sets it (the generators are seeded the
same way). After every pattern the read-out and every potential are
compared; every ``chunk`` patterns, the whole state (potentials, filters,
weights and traces) and the rates. The largest absolute deviation of each
variable is reported. The hidden layer's somatic potentials during the
first patterns are sampled on both sides for the overlay figure.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcdl import data as datasets
from mcdl import ir
from mcdl.init import initial_weights
from mcdl.sim import Recorder, Simulator
from mcdl.train import engines

TOLERANCE = 1e-9


@dataclass
class Comparison:
    """The largest deviation of every compared variable, over one run."""

    layout: str
    patterns: int
    deviations: dict[str, float] = field(default_factory=dict)
    traces: dict[str, np.ndarray] = field(default_factory=dict)
    probe: str = ""
    probe_every: int = 10
    sides: tuple[str, str] = ("Lava", "mcdl.sim")
    """What ran: the dashed and the wide curves of the overlay figure."""

    @property
    def largest(self) -> float:
        return max(self.deviations.values(), default=0.0)

    def note(self, name: str, a: np.ndarray, b: np.ndarray) -> None:
        deviation = float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))
        self.deviations[name] = max(self.deviations.get(name, 0.0), deviation)


def probe_population(network: ir.Network) -> str:
    """The potential to plot: the first hidden (not input, not output) soma."""
    for population in network.populations:
        if population.is_input or population.name == network.output:
            continue
        for compartment in population.compartments:
            if compartment.kind == "integrating":
                return f"{population.name}.{compartment.name}"
    nudged = [n.compartment for n in network.nudgings if n.target == network.output]
    return f"{network.output}.{nudged[0]}"


def verify(
    network: ir.Network,
    spec: Path,
    layout: str,
    patterns: int,
    *,
    chunk: int = 10,
    plotted: int = 5,
    probe_every: int = 10,
    progress: Callable[[str], None] | None = None,
    allow_outside: bool = False,
) -> Comparison:
    """Run ``patterns`` training patterns on Lava (``layout``) and on mcdl.sim.

    ``allow_outside`` lets ``file`` initialisers lie outside the spec's folder.
    """
    inputs, labels = training_set(network, patterns)
    count = len(inputs)
    phase = data_phase(network)
    probe = probe_population(network)
    comparison = Comparison(layout, count, probe=probe, probe_every=probe_every)

    weights = initial_weights(network, spec.parent, allow_outside=allow_outside)
    simulator = Simulator(network, weights)
    with tempfile.TemporaryDirectory(prefix="mcdl-verify-") as folder:
        package = engines.build_package(
            network, spec, Path(folder), layout, allow_outside=allow_outside
        )
        module = engines.load_package(package)
        with module.Network(probe=(probe,), probe_every=probe_every) as net:
            for start in range(0, count, chunk):
                stop = min(count, start + chunk)
                _compare_chunk(
                    net,
                    simulator,
                    module,
                    comparison,
                    phase,
                    inputs[start:stop],
                    labels[start:stop],
                    start,
                    plotted,
                )
                if progress is not None:
                    progress(f"{layout}: {stop}/{count} patterns")
    return comparison


def _compare_chunk(
    net, simulator, module, comparison, phase, inputs, labels, start, plotted
) -> None:
    probe, every = comparison.probe, comparison.probe_every
    presentations = []
    net.train(
        inputs, labels, phase=phase, callback=lambda i, p: presentations.append(p)
    )
    for offset, presentation in enumerate(presentations):
        steps = Recorder([probe], every="step") if start + offset < plotted else None
        one = slice(offset, offset + 1)
        readout = simulator.train(inputs[one], labels[one], phase, record=steps)
        comparison.note("read-out", presentation.readout, readout[0])
        for name, value in presentation.potentials.items():
            comparison.note(name, value, simulator.variable(name))
        if steps is not None:
            sim_trace = steps.arrays()[probe][every - 1 :: every]
            lava_trace = presentation.probes[probe]
            comparison.note(f"{probe} (sampled)", lava_trace, sim_trace)
            for side, trace in (("lava", lava_trace), ("sim", sim_trace)):
                old = comparison.traces.get(side)
                joined = trace if old is None else np.vstack([old, trace])
                comparison.traces[side] = joined
    lava_state = net.state()
    sim_state = simulator.state()
    for name, value in lava_state.items():
        if name in sim_state:
            comparison.note(name, value, sim_state[name])
    sim_rates = module.rates(sim_state)
    for name, value in module.rates(lava_state).items():
        comparison.note(name, value, sim_rates[name])


def training_set(network: ir.Network, patterns: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``patterns`` training inputs and labels of the spec's data set.

    bars for the bars data set (or none), digits otherwise.
    """
    if network.protocol.dataset in (None, "bars"):
        train_set = datasets.bars()
    else:
        train_set, _ = datasets.digits()
    count = min(patterns, len(train_set.inputs))
    return train_set.inputs[:count], train_set.labels[:count]


def data_phase(network: ir.Network) -> str:
    """The name of the protocol's first phase that shows data (or its first)."""
    for phase in network.protocol.phases:
        if phase.input == "data":
            return phase.name
    return network.protocol.phases[0].name


def plot(comparisons: list[Comparison], network: ir.Network, path: Path) -> None:
    """Overlay the probed potentials of Lava and mcdl.sim, one panel per layout."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in comparisons if "lava" in c.traces]
    figure, axes = plt.subplots(
        len(shown), 1, figsize=(10, 3.2 * max(1, len(shown))), squeeze=False
    )
    for axis, comparison in zip(axes[:, 0], shown, strict=True):
        lava, sim = comparison.traces["lava"], comparison.traces["sim"]
        time = (np.arange(len(sim)) + 1) * comparison.probe_every * network.dt
        neurons = min(5, sim.shape[1])
        for neuron in range(neurons):
            colour = f"C{neuron}"
            axis.plot(time, sim[:, neuron], color=colour, linewidth=2.5, alpha=0.4)
            axis.plot(time, lava[:, neuron], color=colour, linestyle="--", linewidth=1)
        axis.set_xlabel("time (ms)")
        axis.set_ylabel(f"{comparison.probe} (u)")
        dashed, wide = comparison.sides
        axis.set_title(
            f"{comparison.layout}: {dashed} (dashed) over {wide} (wide), "
            f"largest deviation {comparison.largest:.1e}"
        )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
