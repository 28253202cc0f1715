"""The reference simulator: a network's state and how it moves.

``Simulator`` follows ``docs/semantics.md`` section by section: ``step`` is
"One time step", ``present`` (with ``train``, ``evaluate`` and ``run_phase``
from ``mcdl.sim.protocol``) is "Patterns, phases and read-out". Everything
that depends only on the network (names, sizes, factors, compiled
expressions) is prepared once by ``mcdl.sim.build``; a step only runs numpy
operations on small arrays.

A state value that becomes NaN or infinite raises ``NonFiniteError`` naming
the variable, its population and the time step. ``present`` checks the state
once per pattern and, when the check fails, runs the pattern again from a
copy of its starting state, checking every step; the generated code does the
same and reports the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from mcdl import ir
from mcdl.init import initial_weights, weight_shape
from mcdl.sim.build import Plan, build_plan, check_network
from mcdl.sim.dynamics import Consolidation, Learning, SimError
from mcdl.sim.protocol import ProtocolRunner
from mcdl.sim.record import Recorder

GENERATOR_PREFIX = "rng:"
"""``state()`` names a population's noise generator ``rng:<population>``."""

GENERATOR_WORDS = 10
"""A generator's state as words: PCG64's state and increment, four 32-bit words
each, lowest first, then ``has_uint32`` and ``uinteger`` (as generated code)."""


class NonFiniteError(FloatingPointError):
    """A value of the state became NaN or infinite.

    ``variable`` and ``population`` name it, ``time_step`` counts the steps
    since the simulator was made.
    """

    def __init__(self, message: str, variable: str, population: str, time_step: int):
        super().__init__(message)
        self.variable = variable
        self.population = population
        self.time_step = time_step


def generator_words(generator: np.random.Generator) -> np.ndarray:
    """Return the state of ``generator`` as ``GENERATOR_WORDS`` float64 words."""
    state = generator.bit_generator.state
    words = []
    for value in (state["state"]["state"], state["state"]["inc"]):
        words.extend((value >> (32 * i)) & 0xFFFFFFFF for i in range(4))
    words.extend([state["has_uint32"], state["uinteger"]])
    return np.array(words, dtype=np.float64)


def set_generator_words(generator: np.random.Generator, words: np.ndarray) -> None:
    """Give ``generator`` the state ``generator_words`` wrote as ``words``.

    Raises:
        ValueError: ``words`` are not ``GENERATOR_WORDS`` whole 32-bit words.
    """
    words = np.asarray(words, dtype=np.float64)
    if (
        words.shape != (GENERATOR_WORDS,)
        or not np.isfinite(words).all()
        or np.any((words != np.floor(words)) | (words < 0) | (words >= 2**32))
    ):
        raise ValueError("not the words of a generator's state")
    value = [int(word) for word in words]
    state = sum(word << (32 * i) for i, word in enumerate(value[0:4]))
    increment = sum(word << (32 * i) for i, word in enumerate(value[4:8]))
    generator.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": state, "inc": increment},
        "has_uint32": value[8],
        "uinteger": value[9],
    }


class Simulator(ProtocolRunner):
    """A network-level IR run in numpy: the reference every backend matches.

    Args:
        network: the checked network.
        weights: the weights to start from, by projection name, for every
            projection (as ``weights()`` returns them); ``None`` computes the
            initial weights with ``mcdl.init``.
        base_dir: the folder that ``file`` initialisers are relative to.

    Raises:
        SimError: the network uses something the semantics does not define
            (a name that does not resolve, a size that does not match, an
            exact update that would divide by zero).
        mcdl.init.InitError: an initialiser cannot produce its weights.
    """

    def __init__(
        self,
        network: ir.Network,
        weights: Mapping[str, np.ndarray] | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.network = network
        self.protocol = network.protocol
        self.dt = network.dt
        check_network(network)
        self._plan: Plan = build_plan(
            network, self._starting_weights(weights, base_dir)
        )
        self._generators = {
            population.name: np.random.default_rng([network.seed, population.index])
            for population in self._plan.noisy
        }
        self._time = 0
        self._reset_potentials()
        lowpass = self.protocol.lowpass
        self._filter_gain = None if lowpass == 0 else np.asarray(self.dt / lowpass)
        self.steps_per_pattern = self._steps(self.protocol.pattern)
        self.settle_steps = self._steps(self.protocol.settle)
        self.readout_steps = self._steps(self.protocol.readout)
        if not 0 < self.readout_steps <= self.steps_per_pattern:
            raise SimError(
                f"the read-out ({self.protocol.readout} ms) must last at least "
                f"one step and at most the pattern ({self.protocol.pattern} ms)"
            )

    # -- State ---------------------------------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        """Return copies of the state: potentials, filters, weights, traces.

        The state of every noise generator is in it too, as ``rng:<population>``
        (see ``GENERATOR_WORDS``), so that ``set_state`` continues a run exactly.
        """
        plan = self._plan
        names = [*plan.state_names, *plan.weights, *plan.traces]
        state = {name: np.array(self._current(name)) for name in names}
        for population, generator in self._generators.items():
            state[GENERATOR_PREFIX + population] = generator_words(generator)
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Replace the state by ``state``, as ``state()`` returned it.

        Raises:
            ValueError: a name is missing or unknown, a shape is wrong, or a
                generator's state is not one.
        """
        generators = {GENERATOR_PREFIX + name for name in self._generators}
        plan = self._plan
        expected = {*plan.state_names, *plan.weights, *plan.traces, *generators}
        if set(state) != expected:
            missing = sorted(expected - set(state))
            unknown = sorted(set(state) - expected)
            raise ValueError(
                f"state names differ: missing {missing}, unknown {unknown}"
            )
        for name, array in state.items():
            if name in generators:
                continue
            current = self._current(name)
            array = np.asarray(array, dtype=np.float64)
            if array.shape != current.shape:
                raise ValueError(
                    f"{name} has shape {array.shape}, the network needs {current.shape}"
                )
        for name in sorted(generators):
            generator = self._generators[name[len(GENERATOR_PREFIX) :]]
            try:
                set_generator_words(generator, state[name])
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        for name, array in state.items():
            if name not in generators:
                np.copyto(self._current(name), np.asarray(array, dtype=np.float64))

    def weights(self) -> dict[str, np.ndarray]:
        """Return copies of the weights, by projection name."""
        return {name: w.copy() for name, w in self._plan.weights.items()}

    def variable(self, name: str) -> np.ndarray:
        """Return a copy of one variable by its stable name (see ``Recorder``).

        Rates and dendrites are those of the last step (0 before the first).

        Raises:
            KeyError: no such variable.
        """
        return np.array(self._current(name))

    def variable_names(self) -> list[str]:
        """Return the names ``variable`` and ``Recorder`` accept."""
        plan = self._plan
        return [*plan.views, *plan.weights, *plan.traces]

    def _current(self, name: str) -> np.ndarray:
        plan = self._plan
        for table in (plan.views, plan.weights, plan.traces):
            if name in table:
                return table[name]
        raise KeyError(f"no variable {name!r}")

    def _reset_potentials(self) -> None:
        self._plan.values[...] = 0.0
        self._plan.integration.potentials[...] = self._plan.rests

    def _starting_weights(
        self, weights: Mapping[str, np.ndarray] | None, base_dir: Path | None
    ) -> dict[str, np.ndarray]:
        if weights is None:
            return initial_weights(self.network, base_dir)
        names = {p.name for p in self.network.projections}
        if set(weights) != names:
            raise SimError(
                f"weights must be given for exactly the projections {sorted(names)}"
            )
        chosen = {}
        for projection in self.network.projections:
            array = np.array(weights[projection.name], dtype=np.float64)
            shape = weight_shape(self.network, projection)
            if array.shape != shape:
                raise SimError(
                    f"weights of {projection.name} have shape {array.shape}, "
                    f"the projection needs {shape}"
                )
            chosen[projection.name] = array
        return chosen

    def _steps(self, duration: float) -> int:
        return int(round(duration / self.dt))

    # -- One time step -------------------------------------------------------

    def step(
        self,
        pattern: np.ndarray,
        target: np.ndarray | None = None,
        *,
        teach: bool = False,
        plastic: bool = False,
        noise: bool = False,
        learn: Iterable[str] | None = None,
    ) -> None:
        """Advance the network by one time step.

        Args:
            pattern: the presented input, of the input's size.
            target: the presented target potentials, of the output's size, or
                ``None`` (the filtered target then keeps its value).
            teach: whether the target's nudging is on.
            plastic: whether plasticity is on for this step.
            noise: whether the compartments' noise is on.
            learn: the projections that learn when ``plastic``; ``None``
                means every plastic projection.
        """
        filtered, presented = self._signals(pattern, target)
        names = self._plan.learning if learn is None else learn
        learning = self._learning(names) if plastic else ((), ())
        draws = self._noise(1) if noise else None
        noise_row = None if draws is None else draws[0]
        self._advance(filtered, presented, teach, learning, noise_row)
        if not self._finite():
            self._fail(self._time)
        self._time += 1

    def _advance(
        self,
        filtered: np.ndarray,
        presented: np.ndarray,
        teach: bool,
        learning: tuple[tuple[Learning, ...], tuple[Consolidation, ...]],
        noise: np.ndarray | None,
    ) -> None:
        """Run the five parts of a step.

        ``filtered`` is the filtered input (or target and input) and
        ``presented`` what it follows; ``noise`` is the step's scaled noise.

        Steps 2 to 5 read only the filtered signals and step-``n`` values, so
        their order is free. The rules' updates (step 5) are computed before
        the potentials move (step 4) and the weights move last, so that each
        can be updated in place.
        """
        plan = self._plan

        if self._filter_gain is None:
            np.copyto(filtered, presented)
        else:
            filtered += self._filter_gain * (presented - filtered)

        for rate in plan.rates:
            rate()

        for dendrite in plan.dendrites:
            dendrite.update()

        rules, consolidations = learning
        for rule in rules:
            rule.compute()

        plan.integration.advance(teach, noise)

        for consolidation in consolidations:
            consolidation.apply()

    def _noise(self, steps: int) -> np.ndarray:
        """Return ``steps`` rows of scaled noise, one column per potential.

        Each population draws, per step, one block of its size per noisy
        compartment in declaration order; drawing all steps at once gives the
        same numbers. Potentials without noise get 0.
        """
        potentials = self._plan.integration.potentials
        noise = np.zeros((steps, potentials.size))
        for population in self._plan.noisy:
            size = population.size
            xi = self._generators[population.name].standard_normal(
                (steps, size * len(population.blocks))
            )
            for column, (offset, scale) in enumerate(population.blocks):
                block = xi[:, column * size : (column + 1) * size]
                noise[:, offset : offset + size] = scale * block
        return noise

    def _learning(
        self, names: Iterable[str]
    ) -> tuple[tuple[Learning, ...], tuple[Consolidation, ...]]:
        """Return the rules and weight updates of the projections ``names``."""
        plan = self._plan
        chosen = set(names)
        consolidations = plan.consolidations(chosen)
        rules = tuple(rule for name, rule in plan.learning.items() if name in chosen)
        return rules, consolidations

    def _signals(
        self, pattern: np.ndarray, target: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the filtered signals of a step and the values they follow.

        The filtered target sits just before the filtered input in the value
        buffer, so with a target both are one view, following
        ``[target, pattern]``, and step 1 is one operation.

        Raises:
            ValueError: the pattern or the target has the wrong shape.
        """
        plan = self._plan
        pattern = np.array(pattern, dtype=np.float64)
        if pattern.shape != (plan.input_size,):
            raise ValueError(
                f"a pattern has shape {pattern.shape}, the input needs "
                f"({plan.input_size},)"
            )
        if target is None:
            return plan.views[plan.input_rate], pattern
        target = np.array(target, dtype=np.float64)
        if target.shape != (plan.output_size,):
            raise ValueError(
                f"a target has shape {target.shape}, the output needs "
                f"({plan.output_size},)"
            )
        return plan.signals, np.concatenate([target, pattern])

    # -- Patterns ------------------------------------------------------------

    def present(
        self,
        pattern: np.ndarray,
        target: np.ndarray | None = None,
        *,
        teach: bool = False,
        learn: Iterable[str] = (),
        noise: bool = False,
        record: Recorder | None = None,
    ) -> np.ndarray:
        """Show one pattern for the protocol's pattern time; return its read-out.

        Plasticity is on for the projections in ``learn`` from the end of the
        settling time on. The read-out is the mean of the output's nudged
        compartment over the last read-out steps.

        Args:
            pattern: the input, of the input's size.
            target: the target potentials, of the output's size, or ``None``.
            teach: whether the target's nudging is on.
            learn: the names of the projections that learn.
            noise: whether the compartments' noise is on.
            record: where to record variables, if anywhere.
        """
        filtered, presented = self._signals(pattern, target)
        learning = self._learning(learn)
        steps = self.steps_per_pattern
        noise = self._noise(steps) if noise else None
        if record is not None:
            self._check_names(record.names)
        saved = self._snapshot()
        run = (filtered, presented, teach, learning, noise)
        total, _ = self._pattern(*run, record=record, check=False)
        if not self._finite():
            self._restore(saved)
            _, failed = self._pattern(*run, record=None, check=True)
            self._fail(self._time + (steps - 1 if failed is None else failed))
        self._time += steps
        if record is not None and record.every == "pattern":
            record.take(self._current)
        return total / self.readout_steps

    def _pattern(
        self,
        filtered: np.ndarray,
        presented: np.ndarray,
        teach: bool,
        learning: tuple[tuple[Learning, ...], tuple[Consolidation, ...]],
        noise: np.ndarray | None,
        *,
        record: Recorder | None,
        check: bool,
    ) -> tuple[np.ndarray, int | None]:
        """Run the steps of one pattern; return the read-out sum.

        With ``check``, stop after the first step that leaves a state value
        that is not finite, and return that step too.
        """
        settling = ((), ())
        first_read = self.steps_per_pattern - self.readout_steps
        readout = self._readout()
        total = np.zeros(readout.size)
        for k in range(self.steps_per_pattern):
            self._advance(
                filtered,
                presented,
                teach,
                learning if k >= self.settle_steps else settling,
                None if noise is None else noise[k],
            )
            if check and not self._finite():
                return total, k
            if k >= first_read:
                total += readout
            if record is not None and record.every == "step":
                record.take(self._current)
        return total, None

    # -- Values that stop being finite --------------------------------------

    def _finite(self) -> bool:
        """Whether the state that steps change (not fixed weights) is finite."""
        plan = self._plan
        return bool(
            np.isfinite(plan.integration.potentials).all()
            and np.isfinite(plan.signals).all()
            and np.isfinite(plan.plastic.weights).all()
            and np.isfinite(plan.plastic.traces).all()
        )

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        plan = self._plan
        storage = plan.plastic
        return plan.values.copy(), storage.weights.copy(), storage.traces.copy()

    def _restore(self, saved: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        plan = self._plan
        values, weights, traces = saved
        np.copyto(plan.values, values)
        np.copyto(plan.plastic.weights, weights)
        np.copyto(plan.plastic.traces, traces)

    def _fail(self, time_step: int) -> None:
        """Raise ``NonFiniteError`` for the first state value that is not finite.

        ``time_step`` is the step after which it was found, counted since the
        simulator was made.
        """
        plan = self._plan
        for name in [*plan.state_names, *plan.weights, *plan.traces]:
            values = self._current(name)
            bad = np.argwhere(~np.isfinite(values))
            if bad.size:
                break
        else:
            raise NonFiniteError("the state stopped being finite", "", "", time_step)
        where = tuple(int(i) for i in bad[0])
        population = self._population_of(name)
        kind = "NaN" if np.isnan(values[where]) else "infinite"
        pattern, within = divmod(time_step, self.steps_per_pattern)
        index = ", ".join(str(i) for i in where)
        raise NonFiniteError(
            f"{name}[{index}] of population {population} became {kind} at step "
            f"{within} of pattern {pattern} (time step {time_step} since the "
            "network started)",
            name,
            population,
            time_step,
        )

    def _population_of(self, name: str) -> str:
        for projection in self.network.projections:
            if name in (projection.name, f"D:{projection.name}"):
                return projection.target
        return name.rsplit(".", 1)[0]

    def _readout(self) -> np.ndarray:
        if self._plan.readout is None:
            raise SimError(
                f"the output {self.network.output!r} has no nudging from the "
                "target, so its read-out compartment is not defined"
            )
        return self._plan.views[self._plan.readout]

    def _check_names(self, names: Iterable[str]) -> None:
        known = set(self.variable_names())
        unknown = sorted(set(names) - known)
        if unknown:
            raise KeyError(f"cannot record {unknown}: known are {sorted(known)}")

    @property
    def input_size(self) -> int:
        return self._plan.input_size

    @property
    def output_size(self) -> int:
        return self._plan.output_size

    def _kept(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The state, and the rates and dendrites of the last step."""
        return self.state(), self._plan.values.copy()

    def _rewind(self, kept: tuple[dict[str, np.ndarray], np.ndarray]) -> None:
        state, values = kept
        self.set_state(state)
        np.copyto(self._plan.values, values)
