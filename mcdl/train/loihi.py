"""Training on the loihi target: its fused package behind the loop's calls.

``LoihiEngine`` puts the calls the training loop makes (``train``,
``evaluate``, ``run_phase``, ``weights``, ``state``, ``set_state``) in front
of the ``Network`` of a generated loihi package (fused layout), which runs
Loihi 2's integers in Lava's ``fixed_pt`` simulation. Labels are classes
(``mcdl.train.loop`` refuses other data sets for this target).

The state is the package's integer state (``STATE`` of its kernel), the
clocks ``step`` and ``patterns`` (which also place the learning engine's
random numbers and the noise), and, by projection name, the weights in float,
which a checkpoint keeps for people to read and ``set_state`` ignores (they
follow from the integers).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from mcdl import ir

CLOCKS = ("step", "patterns")


class LoihiEngine:
    """A loihi package's network behind the engine calls of ``mcdl.train.loop``.

    Args:
        network: the checked network.
        module: the imported generated package.
        timeout: the seconds a Lava run may go without finishing a pattern
            before it is stopped as hung; None waits as long as it lives.
    """

    def __init__(
        self, network: ir.Network, module: ModuleType, timeout: float | None
    ) -> None:
        self.network = network
        self.net = module.Network(timeout=timeout)

    def _phase(self, phase: int | str | None) -> str:
        phases = self.network.protocol.phases
        if phase is None:
            return next((p.name for p in phases if p.input == "data"), phases[0].name)
        if isinstance(phase, int):
            return phases[phase].name
        return phase

    def train(self, inputs, labels, epochs=1, phase=None, callback=None):
        """Show ``inputs`` with the targets of ``labels`` ``epochs`` times.

        The package runs the whole chunk in one Lava run, so ``callback``
        hears of its last pattern only.
        """
        phase = self._phase(phase)
        self.net.train(inputs, labels, epochs=epochs, phase=phase)
        if callback is not None and len(inputs):
            callback(len(inputs) - 1, None)

    def evaluate(self, inputs, labels):
        """Loss and accuracy without target, noise or plasticity."""
        return self.net.evaluate(inputs, labels)

    def run_phase(self, phase, data=None, *, validation=None, callback=None):
        return self.net.run_phase(self._phase(phase), data, validation)

    def weights(self) -> dict[str, np.ndarray]:
        return self.net.weights()

    def state(self) -> dict[str, np.ndarray]:
        state = self.net.state()
        state["step"] = np.array(self.net.step)
        state["patterns"] = np.array(self.net.patterns)
        state.update(self.weights())
        return state

    def set_state(self, state) -> None:
        """Take a state as ``state`` returns it (the float weights are ignored)."""
        floats = set(self.weights())
        self.net.set_state(
            {k: v for k, v in state.items() if k not in floats and k not in CLOCKS}
        )
        self.net.step = int(np.asarray(state["step"]))
        self.net.patterns = int(np.asarray(state["patterns"]))

    def close(self) -> None:
        pass

    def __enter__(self) -> LoihiEngine:
        return self

    def __exit__(self, *exception) -> None:
        self.close()
