"""Patterns, phases and read-out: how both reference simulators run a protocol.

``ProtocolRunner`` holds what ``docs/semantics.md`` says about training,
evaluating and running the protocol's phases, in terms of one call that a
simulator provides, ``present`` (one pattern, in its own arithmetic). The
float reference (``mcdl.sim.simulator``) and the integer one
(``mcdl.sim.fixed``) share it, so the two run a protocol the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from mcdl import ir
from mcdl.data import target_potentials
from mcdl.sim.record import Recorder

logger = logging.getLogger("mcdl.sim")

RANDOM_PHASE_STREAM = 1000
"""A random-input phase ``i`` draws from ``default_rng([seed, 1000 + i])``."""


class Evaluation(NamedTuple):
    """The result of ``evaluate``: loss, accuracy and read-outs."""

    loss: float
    accuracy: float
    readouts: np.ndarray


@dataclass
class PhaseResult:
    """What one protocol phase did.

    ``readouts`` has one row per presented pattern; ``validation`` one
    evaluation after each epoch (or after the phase, for a phase counted in
    patterns) when validation data was given.
    """

    phase: str
    readouts: np.ndarray
    validation: list[Evaluation] = field(default_factory=list)


class ProtocolRunner:
    """Training, evaluation and protocol phases on top of ``present``.

    A simulator that uses it has ``network``, ``protocol``, ``input_size``
    and ``output_size``, and provides ``present(pattern, target, *, teach,
    learn, noise, record)`` and ``_kept()`` / ``_rewind(kept)``, which save
    and restore everything a presentation changes.
    """

    network: ir.Network
    protocol: ir.Protocol
    input_size: int
    output_size: int

    def present(
        self,
        pattern: np.ndarray,
        target: np.ndarray | None = None,
        *,
        teach: bool = False,
        learn: Any = (),
        noise: bool = False,
        record: Recorder | None = None,
    ) -> np.ndarray:
        raise NotImplementedError

    def _kept(self) -> Any:
        raise NotImplementedError

    def _rewind(self, kept: Any) -> None:
        raise NotImplementedError

    def train(
        self,
        patterns: np.ndarray,
        targets: np.ndarray,
        phase: ir.Phase | str,
        *,
        record: Recorder | None = None,
    ) -> np.ndarray:
        """Show every pattern with its target as ``phase`` says; return read-outs.

        Args:
            patterns: one pattern per row.
            targets: class labels (integers, turned into ``target_high`` and
                ``target_low`` potentials) or target potentials, one row each.
            phase: the protocol phase (or its name) that sets ``teach``,
                ``noise`` and which projections learn.
            record: where to record variables, if anywhere.
        """
        phase = self._phase(phase)
        patterns = np.asarray(patterns, dtype=np.float64)
        potentials = self._target_potentials(targets, len(patterns))
        readouts = [
            self.present(
                pattern,
                target,
                teach=phase.teach,
                learn=phase.learn,
                noise=phase.noise,
                record=record,
            )
            for pattern, target in zip(patterns, potentials, strict=True)
        ]
        return np.array(readouts).reshape(len(patterns), self.output_size)

    def evaluate(
        self,
        patterns: np.ndarray,
        labels: np.ndarray,
        *,
        record: Recorder | None = None,
    ) -> Evaluation:
        """Show every pattern without a target; return loss, accuracy, read-outs.

        Plasticity and noise are off, and everything is restored afterwards,
        so evaluating changes nothing.

        Args:
            patterns: one pattern per row.
            labels: the class of each pattern.
            record: where to record variables, if anywhere.
        """
        patterns = np.asarray(patterns, dtype=np.float64)
        labels = np.asarray(labels)
        kept = self._kept()
        try:
            readouts = np.array(
                [self.present(pattern, record=record) for pattern in patterns]
            ).reshape(len(patterns), self.output_size)
        finally:
            self._rewind(kept)
        targets = self._target_potentials(labels, len(patterns))
        loss = float(np.mean((readouts - targets) ** 2))
        accuracy = float(np.mean(np.argmax(readouts, axis=1) == labels))
        return Evaluation(loss, accuracy, readouts)

    def _target_potentials(self, targets: np.ndarray, count: int) -> np.ndarray:
        targets = np.asarray(targets)
        if targets.ndim == 1 and np.issubdtype(targets.dtype, np.integer):
            targets = target_potentials(
                targets,
                self.output_size,
                high=self.protocol.target_high,
                low=self.protocol.target_low,
            )
        targets = np.asarray(targets, dtype=np.float64)
        if targets.shape != (count, self.output_size):
            raise ValueError(
                f"targets have shape {targets.shape}, expected integer labels "
                f"({count},) or potentials ({count}, {self.output_size})"
            )
        return targets

    # -- Phases --------------------------------------------------------------

    def run_phase(
        self,
        phase: ir.Phase | str | int,
        data: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        record: Recorder | None = None,
    ) -> PhaseResult:
        """Run one phase of the protocol.

        A phase with ``input = data`` shows ``data`` (patterns, labels) in
        order, ``epochs`` times, or its first ``patterns`` patterns (cycling
        through the data if it is shorter). A phase with ``input = random``
        shows ``patterns`` patterns drawn uniformly from ``[0, 1)`` by
        ``numpy.random.default_rng([seed, 1000 + phase index])``, one row per
        pattern, without a target.

        Args:
            phase: the phase, its name or its index in the protocol.
            data: (patterns, labels or target potentials) for a data phase.
            validation: (patterns, labels) to evaluate after every epoch.
            record: where to record variables, if anywhere.

        Raises:
            ValueError: a data phase without data, or a phase that does not
                say how many patterns or epochs it lasts.
        """
        index = self._phase_index(phase)
        phase = self.protocol.phases[index]
        logger.info("phase %s", phase.name)
        if phase.input == "random":
            return self._run_random(phase, index, validation, record)
        if data is None:
            raise ValueError(f"phase {phase.name!r} shows data: pass data")
        patterns, targets = (np.asarray(a) for a in data)
        if phase.epochs is not None:
            result = PhaseResult(phase.name, np.zeros((0, self.output_size)))
            for epoch in range(phase.epochs):
                readouts = self.train(patterns, targets, phase, record=record)
                result.readouts = np.concatenate([result.readouts, readouts])
                if validation is not None:
                    result.validation.append(self.evaluate(*validation))
                    logger.info("epoch %d: %s", epoch + 1, result.validation[-1][:2])
            return result
        if phase.patterns is None:
            raise ValueError(f"phase {phase.name!r} gives neither patterns nor epochs")
        chosen = np.arange(phase.patterns) % len(patterns)
        readouts = self.train(patterns[chosen], targets[chosen], phase, record=record)
        result = PhaseResult(phase.name, readouts)
        if validation is not None:
            result.validation.append(self.evaluate(*validation))
        return result

    def run_protocol(
        self,
        data: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> list[PhaseResult]:
        """Run every phase of the protocol in order (see ``run_phase``)."""
        return [
            self.run_phase(index, data, validation=validation)
            for index in range(len(self.protocol.phases))
        ]

    def _run_random(
        self,
        phase: ir.Phase,
        index: int,
        validation: tuple[np.ndarray, np.ndarray] | None,
        record: Recorder | None,
    ) -> PhaseResult:
        if phase.patterns is None:
            raise ValueError(f"random phase {phase.name!r} must give its patterns")
        stream = [self.network.seed, RANDOM_PHASE_STREAM + index]
        patterns = np.random.default_rng(stream).random(
            (phase.patterns, self.input_size)
        )
        readouts = [
            self.present(pattern, learn=phase.learn, noise=phase.noise, record=record)
            for pattern in patterns
        ]
        result = PhaseResult(
            phase.name,
            np.array(readouts).reshape(len(patterns), self.output_size),
        )
        if validation is not None:
            result.validation.append(self.evaluate(*validation))
        return result

    def _phase(self, phase: ir.Phase | str | int) -> ir.Phase:
        if isinstance(phase, ir.Phase):
            return phase
        return self.protocol.phases[self._phase_index(phase)]

    def _phase_index(self, phase: ir.Phase | str | int) -> int:
        phases = self.protocol.phases
        if isinstance(phase, int):
            if not 0 <= phase < len(phases):
                raise ValueError(f"no phase {phase}: the protocol has {len(phases)}")
            return phase
        for index, candidate in enumerate(phases):
            if candidate == phase or candidate.name == phase:
                return index
        names = [p.name for p in phases]
        raise ValueError(f"no phase {phase!r}: the protocol has {names}")
