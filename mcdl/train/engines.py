"""The engines a network can be trained on: generated Lava code or ``mcdl.sim``.

Both offer the same few calls (``train``, ``evaluate``, ``run_phase``,
``weights``, ``set_weights``, ``state``, ``set_state``, ``close``) so the
training loop does not care which one runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from mcdl import ir
from mcdl.build import BuildError, render_checked, spec_weights, write_package
from mcdl.init import initial_weights
from mcdl.sim import Simulator

ENGINES = ("lava", "sim")


def load_package(package: Path) -> ModuleType:
    """Import the generated package in folder ``package`` under a private name.

    The private name keeps a network called like an installed module (or two
    builds of one network) from shadowing each other.
    """
    digest = hashlib.sha256(str(package.resolve()).encode()).hexdigest()[:12]
    name = f"_mcdl_build_{package.name}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import the package in {package}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def build_package(
    network: ir.Network,
    spec: Path,
    out_dir: Path,
    layout: str = "fused",
    target: str = "cpu",
    *,
    allow_outside: bool = False,
) -> Path:
    """Render and write the package of ``network`` into ``out_dir``.

    Raises:
        BuildError: an initialiser failed, the target cannot generate the
            network, or the package cannot be written.
    """
    weights, problems = spec_weights(network, spec, allow_outside=allow_outside)
    if weights is None:
        raise BuildError(problems[0].message)
    files, problems = render_checked(network, weights, target, layout)
    if files is None:
        raise BuildError(problems[0].message)
    return write_package(files, out_dir, network.name)


class SimEngine:
    """``mcdl.sim`` behind the calls of a generated network."""

    def __init__(
        self,
        network: ir.Network,
        spec: Path,
        weights=None,
        *,
        allow_outside: bool = False,
    ) -> None:
        self.network = network
        initial = initial_weights(network, spec.parent, allow_outside=allow_outside)
        self.simulator = Simulator(network, initial)
        if weights is not None:
            self.set_weights(weights)

    def train(self, inputs, labels, epochs=1, phase=None, callback=None):
        chosen = phase if phase is not None else _first_data_phase(self.network)
        readouts = []
        for _ in range(epochs):
            for index in range(len(inputs)):
                out = self.simulator.train(
                    inputs[index : index + 1], labels[index : index + 1], chosen
                )
                readouts.append(out)
                if callback is not None:
                    callback(index, None)
        return np.concatenate(readouts) if readouts else np.zeros((0, 0))

    def evaluate(self, inputs, labels):
        """Loss and accuracy, as the generated ``Network.evaluate`` gives them.

        ``labels`` are classes or, one row per pattern, target potentials;
        with potentials the accuracy compares the largest read-out with the
        largest target.
        """
        labels = np.asarray(labels)
        if labels.ndim == 1:
            return self.simulator.evaluate(inputs, labels)
        classes = np.argmax(labels, axis=1)
        result = self.simulator.evaluate(inputs, classes)
        loss = float(np.mean((result.readouts - labels) ** 2))
        return result._replace(loss=loss)

    def run_phase(self, phase, data=None, *, validation=None, callback=None):
        return self.simulator.run_phase(phase, data, validation=validation)

    def weights(self) -> dict[str, np.ndarray]:
        return self.simulator.weights()

    def state(self) -> dict[str, np.ndarray]:
        return self.simulator.state()

    def set_state(self, state) -> None:
        self.simulator.set_state(state)

    def set_weights(self, weights) -> None:
        if isinstance(weights, (str, Path)):
            with np.load(weights) as archive:
                weights = {name: archive[name] for name in archive.files}
        state = self.simulator.state()
        state.update({name: np.asarray(array) for name, array in weights.items()})
        self.simulator.set_state(state)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exception) -> None:
        self.close()


def _first_data_phase(network: ir.Network) -> str:
    for phase in network.protocol.phases:
        if phase.input == "data":
            return phase.name
    return network.protocol.phases[0].name
