"""Preparing a network for the simulator: storage laid out, names resolved.

``build_plan`` checks that a network-level IR means something under
``docs/semantics.md`` and turns it into the parts of ``mcdl.sim.dynamics``.
Everything a step could get wrong is rejected here, with a ``SimError`` that
names the population, compartment or projection at fault.

Storage. Every vector of a step is a view of one buffer, ``Plan.values``, in
this order: the potentials of the integrating compartments, the dendrites,
the filtered target, the filtered input, the rates; within each part,
population by population and compartment by compartment. The weights of the
plastic projections are consecutive slices of flat buffers (weights, traces,
updates), so that ``Consolidation`` can update many projections at once.

Stable names: a potential or dendrite is ``"<population>.<compartment>"``, a
rate ``"<population>.rate"``, the filtered input ``"<input>.rate"``, the
filtered target ``"<output>.target"``, a weight matrix its projection's
name, a trace ``"D:<projection>"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from mcdl import ir
from mcdl.sim.dynamics import (
    Consolidation,
    Dendrite,
    Drive,
    Integration,
    Learning,
    SimError,
    Terms,
)
from mcdl.sim.expr import (
    Binder,
    Binding,
    ExprError,
    Getter,
    Intercept,
    compile_expr,
)

RESERVED = ("rate", "target")
"""Words that follow a population's name and so cannot name a compartment."""


def trace_name(projection: str) -> str:
    """Return the stable name of a projection's low-pass trace ``D``."""
    return f"D:{projection}"


def rate_name(population: str) -> str:
    """Return the stable name of a population's rate."""
    return f"{population}.rate"


def compartment_name(population: str, compartment: str) -> str:
    """Return the stable name of a compartment's potential."""
    return f"{population}.{compartment}"


@dataclass(eq=False)
class NoisyPopulation:
    """A population's noisy compartments: where they sit in the potentials.

    ``blocks`` holds, in declaration order, ``(offset, scale)`` per noisy
    compartment: its first index in the potentials and ``sigma sqrt(dt)``.
    """

    name: str
    index: int
    size: int
    blocks: list[tuple[int, float]]


@dataclass(eq=False)
class Plan:
    """Everything a step needs, laid out once for one network."""

    values: np.ndarray
    views: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    traces: dict[str, np.ndarray]
    rates: list[Getter]
    dendrites: list[Dendrite]
    integration: Integration
    learning: dict[str, Learning]
    noisy: list[NoisyPopulation]
    input_rate: str
    target: str
    readout: str | None
    signals: np.ndarray
    state_names: tuple[str, ...]
    rests: np.ndarray
    plastic: _PlasticStorage
    _runs: dict[frozenset[str], tuple[Consolidation, ...]] = field(default_factory=dict)

    @property
    def input_size(self) -> int:
        return self.views[self.input_rate].size

    @property
    def output_size(self) -> int:
        return self.views[self.target].size

    def consolidations(self, names: Iterable[str]) -> tuple[Consolidation, ...]:
        """Return the runs that update the weights of the projections ``names``.

        Raises:
            SimError: a name is not a plastic projection.
        """
        key = frozenset(names)
        if key not in self._runs:
            unknown = sorted(key - set(self.learning))
            if unknown:
                raise SimError(f"{unknown} are not plastic projections")
            self._runs[key] = self.plastic.runs(key)
        return self._runs[key]


@dataclass(eq=False)
class _PlasticStorage:
    """Flat buffers holding the weights, traces and updates of plastic projections.

    ``slices`` gives each plastic projection's range, in projection order;
    ``lowpass`` whether it has a trace.
    """

    dt: float
    weights: np.ndarray
    traces: np.ndarray
    updates: np.ndarray
    gain: np.ndarray
    scratch: np.ndarray
    slices: dict[str, slice]
    lowpass: dict[str, bool]

    def runs(self, names: frozenset[str]) -> tuple[Consolidation, ...]:
        """Group consecutive learning projections of one kind into runs."""
        spans: list[tuple[int, int, bool]] = []
        for name, where in self.slices.items():
            if name not in names:
                continue
            kind = self.lowpass[name]
            if spans and spans[-1][1] == where.start and spans[-1][2] == kind:
                spans[-1] = (spans[-1][0], where.stop, kind)
            else:
                spans.append((where.start, where.stop, kind))
        return tuple(self._run(slice(start, stop), kind) for start, stop, kind in spans)

    def _run(self, where: slice, lowpass: bool) -> Consolidation:
        return Consolidation(
            dt=self.dt,
            weights=self.weights[where],
            updates=self.updates[where],
            scratch=self.scratch[where],
            traces=self.traces[where] if lowpass else None,
            gain=self.gain[where] if lowpass else None,
        )


def check_network(network: ir.Network) -> None:
    """Check that the semantics gives ``network`` a meaning.

    Raises:
        SimError: the first problem found, naming what is at fault.
    """
    _Builder(network)


def build_plan(network: ir.Network, weights: dict[str, np.ndarray]) -> Plan:
    """Return the plan of ``network``, starting from ``weights``.

    ``weights`` maps every projection to its initial weights, which the plan
    copies into its own storage.

    Raises:
        SimError: the network is not one the semantics gives a meaning to.
    """
    return _Builder(network).build(weights)


class _Builder:
    """Checks one network, then resolves it into a plan piece by piece."""

    def __init__(self, network: ir.Network) -> None:
        self.network = network
        self.by_name = {p.name: p for p in network.populations}
        if len(self.by_name) != len(network.populations):
            raise SimError("two populations have the same name")
        self.input = self._input()
        self.output = self._output()
        self.neurons = [p for p in network.populations if not p.is_input]
        for population in self.neurons:
            self._check_compartments(population)
        self._check_connections()
        self.values, self.views, self.offsets, self.rests = self._lay_out()

    def build(self, weights: dict[str, np.ndarray]) -> Plan:
        self.plastic = self._plastic_storage(weights)
        self.weights = self._weights(weights)
        learning = {
            p.name: self._learning(p) for p in self.network.projections if p.plastic
        }
        self._check_phases(learning)
        rates = self._rates()
        potentials = [
            compartment_name(p.name, c.name)
            for p in self.neurons
            for c in p.compartments
            if c.kind == "integrating"
        ]
        traces = {
            trace_name(name): self.plastic.traces[where].reshape(
                self.weights[name].shape
            )
            for name, where in self.plastic.slices.items()
            if self.plastic.lowpass[name]
        }
        return Plan(
            values=self.values,
            views=self.views,
            weights=self.weights,
            traces=traces,
            rates=rates,
            dendrites=self._dendrites(),
            integration=self._integration(),
            learning=learning,
            noisy=self._noisy(),
            input_rate=rate_name(self.input.name),
            target=self._target_name(),
            readout=self._readout(),
            signals=self._signals(),
            state_names=(*potentials, rate_name(self.input.name), self._target_name()),
            rests=self.rests,
            plastic=self.plastic,
        )

    # -- Populations and storage ----------------------------------------------

    def _input(self) -> ir.Population:
        population = self._population(self.network.input, "the network's input")
        if not population.is_input:
            raise SimError(f"the input {population.name!r} is a neuron population")
        for other in self.network.populations:
            if other.is_input and other is not population:
                raise SimError(
                    f"{other.name!r} is a second input: only {population.name!r} "
                    "is given a pattern"
                )
        return population

    def _output(self) -> ir.Population:
        population = self._population(self.network.output, "the network's output")
        if population.is_input:
            raise SimError(f"the output {population.name!r} is an input")
        return population

    def _target_name(self) -> str:
        return f"{self.output.name}.target"

    def _population(self, name: str, what: str) -> ir.Population:
        if name not in self.by_name:
            raise SimError(f"{what} {name!r} is not a population")
        return self.by_name[name]

    def _check_compartments(self, population: ir.Population) -> None:
        names = [c.name for c in population.compartments]
        for name in names:
            if names.count(name) > 1:
                raise SimError(f"{population.name} has two compartments {name!r}")
            if name in RESERVED:
                raise SimError(
                    f"{population.name}.{name}: a compartment cannot be called "
                    f"{name!r}, which names the population's {name}"
                )
        for compartment in population.compartments:
            if compartment.kind == "integrating" and compartment.capacitance <= 0:
                raise SimError(
                    f"{population.name}.{compartment.name} needs a positive capacitance"
                )

    def _check_connections(self) -> None:
        """Check every coupling, projection and nudging before any is used."""
        if self.network.dt <= 0:
            raise SimError(f"the time step must be positive, not {self.network.dt}")
        for population in self.neurons:
            for coupling in population.couplings:
                what = f"the coupling {coupling.source} -> {coupling.target}"
                self._compartment(population, coupling.source, what)
                self._integrating_of(population, coupling.target, what)
                if coupling.source == coupling.target:
                    raise SimError(f"{what} of {population.name} couples to itself")
        names = [p.name for p in self.network.projections]
        for projection in self.network.projections:
            if names.count(projection.name) > 1:
                raise SimError(f"two projections are called {projection.name!r}")
            self._source(projection)
        for nudging in self.network.nudgings:
            what = f"the nudging of {nudging.target}.{nudging.compartment}"
            target = self._population(nudging.target, what)
            if target.is_input:
                raise SimError(f"{what}: the input cannot be nudged")
            self._nudging(target, nudging)

    def _lay_out(
        self,
    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int], np.ndarray]:
        """Return the value buffer, its views and offsets, the resting potentials."""
        parts: list[tuple[str, int]] = []
        rests: list[np.ndarray] = []
        for kind in ("integrating", "dendrite"):
            for population in self.neurons:
                for compartment in population.compartments:
                    if compartment.kind == kind:
                        name = compartment_name(population.name, compartment.name)
                        parts.append((name, population.size))
                        if kind == "integrating":
                            rests.append(np.full(population.size, compartment.rest))
        parts.append((self._target_name(), self.output.size))
        parts.append((rate_name(self.input.name), self.input.size))
        parts += [(rate_name(p.name), p.size) for p in self.neurons]
        values = np.zeros(sum(size for _, size in parts))
        views, offsets = {}, {}
        offset = 0
        for name, size in parts:
            views[name] = values[offset : offset + size]
            offsets[name] = offset
            offset += size
        rest = np.concatenate(rests) if rests else np.zeros(0)
        return values, views, offsets, rest

    def _signals(self) -> np.ndarray:
        """Return the view holding the filtered target, then the filtered input."""
        start = self.offsets[self._target_name()]
        return self.values[start : start + self.output.size + self.input.size]

    def _plastic_storage(self, weights: dict[str, np.ndarray]) -> _PlasticStorage:
        slices: dict[str, slice] = {}
        lowpass: dict[str, bool] = {}
        gains: list[np.ndarray] = []
        offset = 0
        for projection in self.network.projections:
            if projection.plasticity is None:
                continue
            size = weights[projection.name].size
            slices[projection.name] = slice(offset, offset + size)
            tau = projection.plasticity.lowpass
            lowpass[projection.name] = tau is not None
            if tau is not None and tau <= 0:
                raise SimError(f"the low-pass of {projection.name} must be positive")
            gain = 0.0 if tau is None else self.network.dt / tau
            gains.append(np.full(size, gain))
            offset += size
        storage = _PlasticStorage(
            dt=self.network.dt,
            weights=np.zeros(offset),
            traces=np.zeros(offset),
            updates=np.zeros(offset),
            gain=np.concatenate(gains) if gains else np.zeros(0),
            scratch=np.zeros(offset),
            slices=slices,
            lowpass=lowpass,
        )
        for name, where in slices.items():
            storage.weights[where] = np.ravel(weights[name])
        return storage

    def _weights(self, initial: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        weights = {}
        for projection in self.network.projections:
            shape = np.shape(initial[projection.name])
            where = self.plastic.slices.get(projection.name)
            if where is None:
                weights[projection.name] = np.array(initial[projection.name], float)
            else:
                weights[projection.name] = self.plastic.weights[where].reshape(shape)
        return weights

    # -- Expressions ---------------------------------------------------------

    def _view(self, name: str) -> Getter:
        view = self.views[name]
        return lambda: view

    def _compile(
        self,
        expr: ir.Expr,
        bind: Binder,
        what: str,
        *,
        out: np.ndarray,
        intercept: Intercept | None = None,
    ) -> Getter:
        try:
            compiled = compile_expr(expr, bind, intercept=intercept, out=out)
        except ExprError as error:
            raise SimError(f"{what}: {error}") from None
        return compiled if callable(compiled) else (lambda: out)

    def _local_binder(
        self, population: ir.Population, kinds: tuple[str, ...]
    ) -> Binder:
        """Bind a bare compartment name of ``population`` to its potential."""

        def bind(ref: ir.Ref) -> Binding:
            if len(ref.parts) == 1:
                (name,) = ref.parts
                for compartment in population.compartments:
                    if compartment.name == name and compartment.kind in kinds:
                        return self._view(compartment_name(population.name, name))
            raise ExprError(f"{ref.dotted!r} at {ref.span} is not one of its names")

        return bind

    def _rates(self) -> list[Getter]:
        """Compile the rates, one getter per group of populations.

        Consecutive populations with the same rate expression, whose
        compartments follow each other in the buffer, form a group whose rate
        is one numpy operation per node over all of them: elementwise
        operations on the joined vectors give the same numbers.
        """
        groups: list[list[ir.Population]] = []
        for population in self.neurons:
            if population.rate is None:
                raise SimError(f"{population.name} has no rate expression")
            if groups and self._follows(groups[-1][-1], population):
                groups[-1].append(population)
            else:
                groups.append([population])
        return [self._rate(group) for group in groups]

    def _follows(self, last: ir.Population, population: ir.Population) -> bool:
        """Whether ``population`` can join the rate group that ``last`` ends."""
        same = _shape_of(population.rate, _bare) == _shape_of(last.rate, _bare)
        if not same:
            return False
        for name in _references(population.rate):
            kinds = {
                c.kind
                for p in (last, population)
                for c in p.compartments
                if c.name == name
            }
            if kinds != {"integrating"}:
                return False
            end = self.offsets[compartment_name(last.name, name)] + last.size
            if self.offsets.get(compartment_name(population.name, name)) != end:
                return False
        return True

    def _rate(self, group: list[ir.Population]) -> Getter:
        first = group[0]
        size = sum(p.size for p in group)
        names = " and ".join(p.name for p in group)

        def joined(name: str) -> np.ndarray:
            start = self.offsets[name]
            return self.values[start : start + size]

        local = self._local_binder(first, ("integrating",))

        def bind(ref: ir.Ref) -> Binding:
            local(ref)
            view = joined(compartment_name(first.name, ref.parts[0]))
            return lambda: view

        return self._compile(
            first.rate,
            bind,
            f"the rate of {names}",
            out=joined(rate_name(first.name)),
        )

    # -- Dendrites -----------------------------------------------------------

    def _dendrites(self) -> list[Dendrite]:
        dendrites = []
        for population in self.neurons:
            for compartment in population.compartments:
                if compartment.kind == "dendrite":
                    name = compartment_name(population.name, compartment.name)
                    drives = self._drives(population, compartment)
                    dendrites.append(Dendrite(name, self.views[name], drives))
        return dendrites

    def _drives(
        self, population: ir.Population, compartment: ir.Compartment
    ) -> list[Drive]:
        return [
            Drive(
                self.weights[projection.name],
                self.views[self._source(projection)],
                projection.one_to_one,
            )
            for projection in self.network.projections
            if projection.target == population.name
            and projection.compartment == compartment.name
        ]

    def _source(self, projection: ir.Projection) -> str:
        what = f"projection {projection.name}"
        source = self._population(projection.source, f"the source of {what}")
        target = self._population(projection.target, f"the target of {what}")
        if target.is_input:
            raise SimError(f"{what} targets the input {target.name!r}")
        self._compartment(target, projection.compartment, what)
        if projection.one_to_one and source.size != target.size:
            raise SimError(
                f"{what} is one to one but its sizes differ: "
                f"{source.size} and {target.size}"
            )
        if projection.source_var == "rate":
            return rate_name(source.name)
        if source.is_input:
            raise SimError(f"{what}: the input {source.name!r} sends only its rate")
        self._integrating_of(source, projection.source_var, what)
        return compartment_name(source.name, projection.source_var)

    def _compartment(
        self, population: ir.Population, name: str, what: str
    ) -> ir.Compartment:
        try:
            return population.compartment(name)
        except KeyError:
            raise SimError(
                f"{what}: {population.name} has no compartment {name!r}"
            ) from None

    def _integrating_of(
        self, population: ir.Population, name: str, what: str
    ) -> ir.Compartment:
        compartment = self._compartment(population, name, what)
        if compartment.kind != "integrating":
            raise SimError(
                f"{what}: {population.name}.{name} is a dendrite, not an "
                "integrating compartment"
            )
        return compartment

    # -- Integrating compartments --------------------------------------------

    def _integration(self) -> Integration:
        """Tabulate the terms of every integrating compartment's current."""
        compartments = [
            (population, compartment)
            for population in self.neurons
            for compartment in population.compartments
            if compartment.kind == "integrating"
        ]
        size = sum(p.size for p, _ in compartments)
        terms = [self._terms(p, c) for p, c in compartments]
        slots = max((len(t) for t in terms), default=0)
        index = np.zeros((slots, size), dtype=np.intp)
        gain = {True: np.zeros((slots, size)), False: np.zeros((slots, size))}
        leak = np.zeros(size)
        constant = np.zeros(size)
        capacitance = np.ones(size)
        direct, currents = [], []
        offset = 0
        for (population, compartment), compartment_terms in zip(
            compartments, terms, strict=True
        ):
            here = slice(offset, offset + population.size)
            leak[here] = compartment.leak
            constant[here] = compartment.leak * compartment.rest
            capacitance[here] = compartment.capacitance
            for slot, (g, signal, teacher) in enumerate(compartment_terms):
                start = self.offsets[signal]
                index[slot, here] = np.arange(start, start + population.size)
                gain[True][slot, here] = g
                gain[False][slot, here] = 0.0 if teacher else g
            direct += [(here, drive) for drive in self._drives(population, compartment)]
            current = self._current(population, compartment)
            if current is not None:
                currents.append((here, current))
            offset += population.size
        exponential = self.network.integration == "exponential"
        conductance = {teach: leak + gain[teach].sum(axis=0) for teach in gain}
        if exponential and np.any(conductance[False] == 0.0):
            raise SimError(
                "the exponential update divides by the total conductance, which "
                "is 0 for a compartment without leak, coupling or always-on nudging"
            )
        if not exponential:
            own = np.arange(size)[None, :]
            index = np.concatenate([own, index])
            gain = {
                teach: np.concatenate([-conductance[teach][None, :], gain[teach]])
                for teach in gain
            }
        inputs = {
            teach: Terms(
                gain=gain[teach],
                conductance=conductance[teach],
                decay=np.exp(-self.network.dt * conductance[teach] / capacitance),
            )
            for teach in gain
        }
        integration = Integration(
            values=self.values,
            potentials=self.values[:size],
            index=index,
            teach=inputs[True],
            free=inputs[False],
            constant=constant if np.any(constant != 0.0) else None,
            step_over_capacitance=self.network.dt / capacitance,
            exponential=exponential,
        )
        total = integration.total
        integration.direct = [(total[here], drive) for here, drive in direct]
        integration.currents = [(total[here], current) for here, current in currents]
        return integration

    def _terms(
        self, population: ir.Population, compartment: ir.Compartment
    ) -> list[tuple[float, str, bool]]:
        """Return ``(g, signal name, from the target)`` per coupling and nudging."""
        terms = []
        for coupling in population.couplings:
            if coupling.target == compartment.name:
                source = compartment_name(population.name, coupling.source)
                terms.append((coupling.conductance, source, False))
        for nudging in self.network.nudgings:
            if (nudging.target, nudging.compartment) == (
                population.name,
                compartment.name,
            ):
                terms.append(self._nudging(population, nudging))
        return terms

    def _nudging(
        self, population: ir.Population, nudging: ir.Nudging
    ) -> tuple[float, str, bool]:
        """Return ``(g, signal name, from the target)`` of a nudging."""
        what = f"the nudging of {nudging.target}.{nudging.compartment}"
        self._integrating_of(population, nudging.compartment, what)
        if nudging.form == "conductance" and nudging.e_exc == nudging.e_inh:
            raise SimError(f"{what}: the conductance form needs E_exc != E_inh")
        if nudging.source is None:
            if population.size != self.output.size:
                raise SimError(
                    f"{what} is from the target, of size {self.output.size}, "
                    f"but {population.name} has {population.size} neurons"
                )
            return nudging.conductance, self._target_name(), True
        source = self._population(nudging.source, f"the source of {what}")
        if nudging.source_compartment is None:
            raise SimError(f"{what} does not name the source's compartment")
        self._integrating_of(source, nudging.source_compartment, what)
        if source.size != population.size:
            raise SimError(
                f"{what} is one to one but its sizes differ: "
                f"{source.size} and {population.size}"
            )
        signal = compartment_name(source.name, nudging.source_compartment)
        return nudging.conductance, signal, False

    def _current(
        self, population: ir.Population, compartment: ir.Compartment
    ) -> Getter | None:
        if compartment.current is None:
            return None
        name = compartment_name(population.name, compartment.name)
        if self.network.integration == "exponential":
            raise SimError(
                f"{name} declares a current, which the exponential integration "
                "does not allow"
            )
        try:
            compiled = compile_expr(
                compartment.current,
                self._local_binder(population, ("integrating", "dendrite")),
            )
        except ExprError as error:
            raise SimError(f"the current of {name}: {error}") from None
        if callable(compiled):
            return compiled
        return lambda: compiled

    def _noisy(self) -> list[NoisyPopulation]:
        noisy = []
        for index, population in enumerate(self.network.populations):
            blocks = [
                (
                    self.offsets[compartment_name(population.name, c.name)],
                    c.noise * math.sqrt(self.network.dt),
                )
                for c in population.compartments
                if c.kind == "integrating" and c.noise > 0
            ]
            if blocks:
                noisy.append(
                    NoisyPopulation(population.name, index, population.size, blocks)
                )
        return noisy

    def _readout(self) -> str | None:
        """Return the output's compartment that the target nudges, if any."""
        for nudging in self.network.nudgings:
            if nudging.source is None and nudging.target == self.output.name:
                return compartment_name(self.output.name, nudging.compartment)
        return None

    # -- Plasticity ----------------------------------------------------------

    def _learning(self, projection: ir.Projection) -> Learning:
        plasticity = projection.plasticity
        if plasticity is None:
            raise SimError(f"projection {projection.name} is not plastic")
        target = self.by_name[projection.target]
        where = self.plastic.slices[projection.name]
        update = self.plastic.updates[where].reshape(
            self.weights[projection.name].shape
        )
        compute = self._compile(
            plasticity.update,
            self._rule_binder(projection),
            f"the rule {plasticity.rule} of {projection.name}",
            out=update,
            intercept=self._rate_reuse(target, column=not projection.one_to_one),
        )
        return Learning(projection.name, compute)

    def _rule_binder(self, projection: ir.Projection) -> Binder:
        """Bind the names a rule may read: pre.rate, post.*, w.

        For all-to-all weights post-synaptic values are columns; pre-synaptic
        values are 1-D, which numpy broadcasts as rows.
        """
        source = self.by_name[projection.source]
        target = self.by_name[projection.target]
        weights = self.weights[projection.name]
        column = not projection.one_to_one

        def post(name: str, factor: float | None = None) -> Getter:
            view = self.views[name][:, None] if column else self.views[name]
            if factor is None:
                return lambda: view
            scale = np.asarray(factor, dtype=np.float64)
            return lambda: np.multiply(scale, view)

        def bind(ref: ir.Ref) -> Binding:
            parts = ref.parts
            if parts == ("w",):
                return lambda: weights
            if parts == ("pre", "rate"):
                return self._view(rate_name(source.name))
            if parts == ("post", "rate"):
                return post(rate_name(target.name))
            if len(parts) in (2, 3) and parts[0] == "post":
                compartment = self._rule_compartment(target, parts[1], ref)
                name = compartment_name(target.name, compartment.name)
                if len(parts) == 2:
                    return post(name)
                if parts[2] == "prediction" and compartment.prediction is not None:
                    return post(name, compartment.prediction.factor)
                if parts[2] == "prediction":
                    raise ExprError(
                        f"{ref.dotted!r} at {ref.span}: {name} has no prediction"
                    )
            raise ExprError(
                f"{ref.dotted!r} at {ref.span} is not pre.rate, post.rate, "
                "post.<compartment>, post.<dendrite>.prediction or w"
            )

        return bind

    def _rate_reuse(self, target: ir.Population, column: bool) -> Intercept | None:
        """Offer the target's rate for a rule's sub-expression equal to it.

        ``phi(post.soma)`` where the rate is ``phi(soma)`` is then read from the
        rate computed in step 2, the same numbers, instead of computed again.
        """
        if target.rate is None:
            return None
        rate_key = _shape_of(target.rate, _bare)
        view = self.views[rate_name(target.name)]
        value = view[:, None] if column else view

        def local(parts: tuple[str, ...]) -> tuple[str, ...] | None:
            return parts[1:] if len(parts) == 2 and parts[0] == "post" else None

        def intercept(expr: ir.Expr) -> Binding | None:
            if isinstance(expr, ir.Call) and _shape_of(expr, local) == rate_key:
                return lambda: value
            return None

        return intercept

    def _rule_compartment(
        self, target: ir.Population, name: str, ref: ir.Ref
    ) -> ir.Compartment:
        for compartment in target.compartments:
            if compartment.name == name:
                return compartment
        raise ExprError(f"{ref.dotted!r} at {ref.span}: {target.name} has no {name!r}")

    def _check_phases(self, learning: dict[str, Learning]) -> None:
        for phase in self.network.protocol.phases:
            for name in phase.learn:
                if name not in learning:
                    raise SimError(
                        f"phase {phase.name!r} lets {name!r} learn, which is not "
                        "a plastic projection"
                    )


def _shape_of(
    expr: ir.Expr, rename: Callable[[tuple[str, ...]], tuple[str, ...] | None]
) -> tuple | None:
    """Return ``expr`` as nested tuples without spans, references renamed.

    ``rename`` maps a reference's parts to new parts, or to ``None`` when the
    reference cannot match; the whole key is then ``None``.
    """
    if isinstance(expr, ir.Num):
        return ("num", expr.value)
    if isinstance(expr, ir.Ref):
        parts = rename(expr.parts)
        return None if parts is None else ("ref", parts)
    if isinstance(expr, ir.Unary):
        operand = _shape_of(expr.operand, rename)
        return None if operand is None else ("neg", operand)
    if isinstance(expr, ir.Binary):
        left = _shape_of(expr.left, rename)
        right = _shape_of(expr.right, rename)
        if left is None or right is None:
            return None
        return (expr.op, left, right)
    if isinstance(expr, ir.Call):
        args = tuple(_shape_of(arg, rename) for arg in expr.args)
        if any(arg is None for arg in args) or expr.keywords:
            return None
        return ("call", expr.func, args)
    return None


def _bare(parts: tuple[str, ...]) -> tuple[str, ...]:
    return parts


def _references(expr: ir.Expr) -> set[str]:
    """Return the dotted names that ``expr`` refers to."""
    if isinstance(expr, ir.Ref):
        return {expr.dotted}
    if isinstance(expr, ir.Unary):
        return _references(expr.operand)
    if isinstance(expr, ir.Binary):
        return _references(expr.left) | _references(expr.right)
    if isinstance(expr, ir.Call):
        return set().union(*(_references(arg) for arg in expr.args))
    return set()
