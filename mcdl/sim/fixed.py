"""The integer reference of the loihi target.

``FixedSimulator`` runs a network in the integer semantics of
``docs/loihi.md``, from the numbers of a ``LoihiPlan``
(``mcdl.passes.lower_loihi``): 24-bit potentials, 16-bit dendritic input,
8-bit rate payloads, 9-bit weights and tags, and Loihi 2's learning engine
as Lava's bit-approximate model computes it (products of 7-bit traces with
the engine's shifts, a 15-bit accumulator and stochastic rounding). It is
written independently of the generated Lava code, which must agree with it
bit for bit.

Each call of ``step`` is one Lava time step of the chip-mapped layout, in
which every synapse delivers what it received one step earlier.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from mcdl import ir
from mcdl.init import initial_weights
from mcdl.passes.lower_loihi import (
    ACCUMULATOR,
    ACTIVATION_BITS,
    ACTIVATION_SHIFT,
    DECAY_BITS,
    ENGINE_SEED,
    FACTOR_WIDTHS,
    PREDICTION_BITS,
    RATE_BITS,
    RESIDUAL_OFFSET,
    STATE_BITS,
    SYNAPSE_SHIFT,
    TABLE_FRACTION,
    TAG_MAX,
    TAG_MIN,
    TRACE_BITS,
    WEIGHT_MAX,
    WEIGHT_MIN,
    LoihiPlan,
    LoweringError,
    PopulationPlan,
    ProjectionPlan,
    lower_loihi,
)
from mcdl.sim.protocol import ProtocolRunner
from mcdl.sim.record import Recorder

_A_MIN, _A_MAX = -(2 ** (ACTIVATION_BITS - 1)), 2 ** (ACTIVATION_BITS - 1) - 1
_U_MIN, _U_MAX = -(2 ** (STATE_BITS - 1)), 2 ** (STATE_BITS - 1) - 1
_ACC_MIN, _ACC_MAX = -(2**ACCUMULATOR) - 1, 2**ACCUMULATOR - 1
_HALF = 1 << (DECAY_BITS - 1)
_FACTOR_SHIFT = DECAY_BITS + TABLE_FRACTION
_FACTOR_HALF = 1 << (_FACTOR_SHIFT - 1)
_MEAN_SHIFT = 2 * _FACTOR_SHIFT
_PRED_HALF = 1 << (PREDICTION_BITS - 1)
_MEAN_ONE = 1 << _FACTOR_SHIFT
_MEAN_HALF = 1 << (_MEAN_SHIFT - 1)


def shift(values: np.ndarray, exponent: int) -> np.ndarray:
    """``values << exponent``, or ``>> -exponent`` (rounding down) if negative."""
    if exponent >= 0:
        return values << exponent
    return values >> -exponent


def stochastic_round(accumulator: np.ndarray, random: float) -> np.ndarray:
    """Lava's rounding of a synaptic accumulator to whole variable units."""
    unit = 2 ** (ACCUMULATOR - 8)
    scaled = accumulator / unit
    fraction = scaled % 1
    whole = np.floor(scaled) + (random < fraction)
    return (whole * unit).astype(np.int64) >> SYNAPSE_SHIFT


@dataclass
class _Engine:
    """The learning engine of one plastic projection (Lava's bit-approximate)."""

    x1: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    y: np.ndarray
    tag: np.ndarray
    residual: np.ndarray
    rng: np.random.Generator


class FixedSimulator(ProtocolRunner):
    """A network run in the integer semantics of the loihi target.

    Args:
        network: the checked network.
        weights: the float weights to start from (``mcdl.init`` if None),
            quantised by the plan.
        plan: the lowered plan; by default ``lower_loihi(network, weights)``.

    Raises:
        LoweringError: the network cannot be lowered.
    """

    def __init__(
        self,
        network: ir.Network,
        weights: Mapping[str, np.ndarray] | None = None,
        plan: LoihiPlan | None = None,
    ) -> None:
        self.network = network
        if plan is None:
            if weights is None:
                weights = initial_weights(network)
            plan, diagnostics = lower_loihi(network, weights)
            if plan is None:
                raise LoweringError(diagnostics)
        self.plan = plan
        self.pops = {p.name: p for p in plan.populations}
        self.projections = list(plan.projections)
        self.input = self.pops[plan.input]
        self.output = self.pops[plan.output]
        self.k = 0
        self.patterns = 0
        self._reset()

    # -- State ---------------------------------------------------------------

    def _reset(self) -> None:
        plan = self.plan
        self.u: dict[str, dict[str, np.ndarray]] = {}
        self.rate: dict[str, np.ndarray] = {}
        self.potential: dict[str, dict[str, np.ndarray]] = {}
        for pop in plan.populations:
            if pop.is_input:
                self.rate[pop.name] = np.zeros(pop.size, dtype=np.int64)
                continue
            self.u[pop.name] = {
                c.name: np.full(pop.size, c.rest, dtype=np.int64)
                for c in pop.compartments
            }
            self.rate[pop.name] = self._rate(pop)
            self.potential[pop.name] = self._potentials(pop)

        self.x = np.zeros(self.input.size, dtype=np.int64)
        self.target = np.zeros(self.output.size, dtype=np.int64)
        self.w = {p.name: np.array(p.weights, dtype=np.int64) for p in self.projections}
        self.buff = {p.name: self._synapses(p) for p in self.projections}
        self.engines: dict[str, _Engine] = {}
        for p in self.projections:
            if p.plastic is None:
                continue
            rng = np.random.default_rng(seed=ENGINE_SEED)
            rng.random(1)
            post, pre = self.w[p.name].shape
            self.engines[p.name] = _Engine(
                x1=np.zeros(pre, dtype=np.int64),
                tx=np.zeros(pre, dtype=np.int64),
                ty=np.zeros(post, dtype=np.int64),
                y=np.zeros((3, post), dtype=np.int64),
                tag=np.zeros((post, pre), dtype=np.int64),
                residual=np.full((post, pre), RESIDUAL_OFFSET, dtype=np.int64),
                rng=rng,
            )
        self.factors: dict[str, np.ndarray] = {}
        self.factor_sums: dict[str, np.ndarray] = {}

    def snapshot(self) -> dict:
        """A deep copy of the whole integer state, generators included."""
        keys = ("k", "u", "rate", "potential", "patterns", "x", "target", "w")
        keys += ("factor_sums",)
        state = {k: copy.deepcopy(getattr(self, k)) for k in keys}
        state["buff"] = copy.deepcopy(self.buff)
        state["engines"] = copy.deepcopy(self.engines)
        return state

    def restore(self, state: dict) -> None:
        """Go back to a ``snapshot``."""
        for name, value in copy.deepcopy(state).items():
            setattr(self, name, value)

    def weights(self) -> dict[str, np.ndarray]:
        """The weights in float (``w * 2**-p_w``), in the network's shapes."""
        out = {}
        for p in self.plan.projections:
            if p.kind == "nudge":
                continue
            w = self.w[p.name] * 2.0**-p.p_w
            out[p.name] = np.diag(w).copy() if p.one_to_one else w
        return out

    def potential_of(self, population: str, compartment: str) -> np.ndarray:
        """A compartment's potential in float."""
        pop = self.pops[population]
        return self.u[population][compartment] * 2.0**-pop.p_u

    # -- One step --------------------------------------------------------------

    def step(
        self,
        pattern: np.ndarray,
        target: np.ndarray | None,
        *,
        teach: bool,
        learning: Iterable[str] = (),
        noise: Mapping[str, list[np.ndarray]] | None = None,
    ) -> None:
        """Advance one time step.

        Args:
            pattern: the input in integers (``2**-p_f``), see ``quantise_input``.
            target: the target potentials in integers (the output's ``s_u``),
                or None.
            teach: whether the target's nudging is on.
            learning: the populations whose plasticity is on (their bAP).
            noise: this step's integer noise per population, one array per
                noisy compartment in declaration order; None for none.
        """
        self.k += 1
        plan = self.plan
        outputs = self.buff
        learning = set(learning)
        self._filter_input(pattern)
        rates, potentials = {self.input.name: self.rate[self.input.name]}, {}
        baps, factors = {}, {}
        for pop in plan.populations:
            if pop.is_input:
                continue
            inputs = self._inputs(pop, outputs)
            if pop.name == plan.output and target is not None:
                self._filter_target(target)
            factors[pop.name] = self._factors(pop, inputs)
            baps[pop.name] = pop.name in learning
            self._integrate(pop, inputs, teach, (noise or {}).get(pop.name))
            rates[pop.name] = self._rate(pop)
            potentials[pop.name] = self._potentials(pop)
        self.rate.update(rates)
        self.potential.update(potentials)
        self.factors = factors
        self.buff = {p.name: self._synapses(p) for p in self.projections}
        for p in self.projections:
            if p.plastic is not None:
                self._engine_receive(p, baps[p.target], factors[p.target])
                if self.k % plan.epoch == 0:
                    self._learn(p)

    def _filter_input(self, pattern: np.ndarray) -> None:
        pop = self.input
        if pop.filter_gain:
            self.x = self.x + ((pop.filter_gain * (pattern - self.x) + _HALF) >> 12)
        else:
            self.x = np.array(pattern, dtype=np.int64)
        down = pop.p_f - pop.p_r
        rate = (self.x + (1 << (down - 1))) >> down
        self.rate[pop.name] = np.clip(rate, 0, 2**RATE_BITS - 1)

    def _filter_target(self, target: np.ndarray) -> None:
        gain = self.output.filter_gain
        if gain:
            self.target = self.target + ((gain * (target - self.target) + _HALF) >> 12)
        else:
            self.target = np.array(target, dtype=np.int64)

    def _inputs(self, pop: PopulationPlan, outputs: dict) -> dict[str, np.ndarray]:
        """Every dendrite's, compartment's and teaching link's 16-bit input."""
        inputs: dict[str, np.ndarray] = {}
        for p in self.projections:
            if p.target != pop.name:
                continue
            where = p.name if p.kind == "nudge" else p.compartment
            inputs[where] = inputs.get(where, 0) + outputs[p.name]
        result = {name: np.clip(v, _A_MIN, _A_MAX) for name, v in inputs.items()}
        for name in pop.dendrites:
            result.setdefault(name, np.zeros(pop.size, dtype=np.int64))
        return result

    def _factors(self, pop: PopulationPlan, inputs: dict) -> np.ndarray:
        """y1..y3 from the potentials before the step and this step's input.

        On the last step of a learning epoch a factor is the mean of its
        fine values over the epoch; on the other steps, this step's value.
        """
        fine = self._fine_factors(pop, inputs)
        total = self.factor_sums.get(pop.name, 0) + fine
        epoch = self.plan.epoch
        if self.k % epoch == 0:
            mean = (total * (_MEAN_ONE // epoch) + _MEAN_HALF) >> _MEAN_SHIFT
            self.factor_sums[pop.name] = np.zeros_like(fine)
            value = mean
        else:
            self.factor_sums[pop.name] = total
            value = (fine + _FACTOR_HALF) >> _FACTOR_SHIFT
        y = np.zeros((3, pop.size), dtype=np.int64)
        for factor in pop.factors:
            row = factor.slot - 1
            y[row] = np.clip(factor.offset + value[row], 0, 2**TRACE_BITS - 1)
        return y

    def _fine_factors(self, pop: PopulationPlan, inputs: dict) -> np.ndarray:
        fine = np.zeros((3, pop.size), dtype=np.int64)
        for factor in pop.factors:
            acc = np.full(pop.size, factor.const, dtype=np.int64)
            for term in factor.terms:
                if term.kind == "dendrite":
                    x = inputs[term.source]
                    if term.multiplier:
                        x = (
                            (x << ACTIVATION_SHIFT) * term.multiplier + _PRED_HALF
                        ) >> (PREDICTION_BITS)
                else:
                    x = self.u[pop.name][term.source]
                if term.table is not None:
                    value = term.table.fine(x)
                else:
                    value = shift(x, TABLE_FRACTION - term.shift)
                acc = acc + term.gain * value
            fine[factor.slot - 1] = acc
        return fine

    def _integrate(
        self,
        pop: PopulationPlan,
        inputs: dict,
        teach: bool,
        noise: list[np.ndarray] | None,
    ) -> None:
        old = self.u[pop.name]
        new = {}
        draws = iter(noise or ())
        for c in pop.compartments:
            u = old[c.name]
            acc = np.zeros(pop.size, dtype=np.int64)
            for term in c.terms:
                gain = term.gain_teach if teach else term.gain_free
                if gain == 0:
                    continue
                if term.kind == "leak":
                    value = term.value
                elif term.kind == "target":
                    value = self.target
                elif term.kind == "coupling" and term.source in old:
                    value = old[term.source]
                else:
                    value = inputs.get(term.source, 0) << ACTIVATION_SHIFT
                acc = acc + gain * value
            acc = acc - (c.decay_teach if teach else c.decay_free) * u
            u = u + ((acc + _HALF) >> DECAY_BITS)
            if noise is not None and c.noise:
                u = u + next(draws)
            new[c.name] = np.clip(u, _U_MIN, _U_MAX)
        self.u[pop.name] = new

    def _rate(self, pop: PopulationPlan) -> np.ndarray:
        assert pop.rate is not None and pop.rate_source is not None
        return pop.rate(self.u[pop.name][pop.rate_source])

    def _potentials(self, pop: PopulationPlan) -> dict[str, np.ndarray]:
        half = 1 << (ACTIVATION_SHIFT - 1)
        return {
            c: np.clip((self.u[pop.name][c] + half) >> ACTIVATION_SHIFT, _A_MIN, _A_MAX)
            for c in pop.sends
        }

    def _synapses(self, p: ProjectionPlan) -> np.ndarray:
        if p.kind == "rate":
            s = self.rate[p.source]
        else:
            s = self.potential[p.source][p.source_var]
        return shift(self.w[p.name] @ s, p.weight_exp)

    # -- The learning engine ---------------------------------------------------

    def _within(self) -> int:
        epoch = self.plan.epoch
        return self.k % epoch or epoch

    def _engine_receive(self, p: ProjectionPlan, bap: bool, y: np.ndarray) -> None:
        engine = self.engines[p.name]
        s = self.rate[p.source]
        spiked = s > 0
        scaled = np.round(s / 2).astype(np.uint8).astype(np.int64)
        engine.x1[spiked] = scaled[spiked]
        engine.tx[spiked] = self._within()
        if bap:
            engine.ty[:] = self._within()
        engine.y = y.copy()

    def _learn(self, p: ProjectionPlan) -> None:
        engine = self.engines[p.name]
        rule = p.plastic
        assert rule is not None
        random = float(engine.rng.random(1)[0])
        x0 = (engine.tx > 0).astype(np.int64)[np.newaxis, :]
        y0 = (engine.ty > 0).astype(np.int64)[:, np.newaxis]
        traces = {
            "x0": x0,
            "x1": np.minimum(engine.x1, 127)[np.newaxis, :],
            "y1": engine.y[0][:, np.newaxis],
            "y2": engine.y[1][:, np.newaxis],
            "y3": engine.y[2][:, np.newaxis],
            "y0": y0,
            "w": self.w[p.name],
            "t": engine.tag,
            "d": engine.residual,
        }
        old = {"w": self.w[p.name], "d": engine.residual, "t": engine.tag}
        updated = {}
        for name, products, low, high in (
            ("w", rule.dw, WEIGHT_MIN, WEIGHT_MAX),
            ("d", rule.dd, 0, 255),
            ("t", rule.dt, TAG_MIN, TAG_MAX),
        ):
            if not products:
                continue
            start = old[name]
            acc = start << SYNAPSE_SHIFT
            for product in products:
                if product.decimation is None:
                    mac = np.ones(start.shape, dtype=np.int64) * y0
                elif (self.k // self.plan.epoch) % 2**product.decimation == 0:
                    mac = np.ones(start.shape, dtype=np.int64)
                else:
                    continue
                for var, const in product.factors:
                    width = FACTOR_WIDTHS[var]
                    if var == "sgn(d)":
                        value = np.sign(engine.residual + const)
                    else:
                        value = traces[var] + const
                    mac = mac * np.clip(value, -(2**width), 2**width - 1)
                mac = (mac * product.mantissa) >> product.shift
                mac = np.clip(mac << (product.exponent + 7), _ACC_MIN, _ACC_MAX)
                acc = np.clip(acc + mac, _ACC_MIN, _ACC_MAX)
            if name == "d":
                acc = np.maximum(acc, 0)
            updated[name] = np.clip(stochastic_round(acc, random), low, high)
        self.w[p.name] = updated.get("w", self.w[p.name])
        engine.residual = updated.get("d", engine.residual)
        engine.tag = updated.get("t", engine.tag)
        engine.x1 = np.where(engine.tx > 0, np.minimum(engine.x1, 127), engine.x1)
        engine.tx[:] = 0
        engine.ty[:] = 0

    # -- Patterns and phases ---------------------------------------------------

    def pattern_noise(self) -> dict[str, list[np.ndarray]]:
        """The integer noise of the next pattern, per population.

        Population ``i`` draws, for pattern number ``n`` (counting every
        pattern presented), from ``default_rng([seed, i, n])``: one
        ``(steps, size)`` block of uniform integers in ``[-A, A]`` per noisy
        compartment, in declaration order.
        """
        plan = self.plan
        draws = {}
        for pop in plan.populations:
            noisy = [c for c in pop.compartments if c.noise]
            if not noisy:
                continue
            rng = np.random.default_rng([plan.seed, pop.index, self.patterns])
            draws[pop.name] = [
                rng.integers(-c.noise, c.noise + 1, (plan.steps_per_pattern, pop.size))
                for c in noisy
            ]
        return draws

    def quantise_input(self, pattern: np.ndarray) -> np.ndarray:
        pop = self.input
        q = np.round(np.asarray(pattern, dtype=np.float64) * 2.0**pop.p_f)
        return np.clip(q, 0, _U_MAX).astype(np.int64)

    def quantise_target(self, target: np.ndarray) -> np.ndarray:
        q = np.round(np.asarray(target, dtype=np.float64) * 2.0**self.output.p_u)
        return np.clip(q, _U_MIN, _U_MAX).astype(np.int64)

    def _learning_populations(self, learn: Iterable[str]) -> set[str]:
        learn = set(learn)
        return {p.target for p in self.projections if p.plastic and p.name in learn}

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

        The read-out is the mean of the output's nudged compartment over the
        last read-out steps, in float. ``record`` takes potentials and rates
        (see ``_current``) after every step or after the pattern.
        """
        every_step = record is not None and record.every == "step"
        plan = self.plan
        p = self.quantise_input(pattern)
        t = None if target is None else self.quantise_target(target)
        populations = self._learning_populations(learn)
        total = np.zeros(self.output.size, dtype=np.int64)
        first = plan.steps_per_pattern - plan.readout_steps
        draws = self.pattern_noise() if noise else None
        self.patterns += 1
        for k in range(plan.steps_per_pattern):
            on = populations if k >= plan.settle_steps else ()
            step_noise = None
            if draws is not None:
                step_noise = {
                    name: [a[k] for a in arrays] for name, arrays in draws.items()
                }
            self.step(p, t, teach=teach, learning=on, noise=step_noise)
            if k >= first:
                total += self.u[self.output.name][plan.readout]
            if every_step:
                record.take(self._current)
        if record is not None and not every_step:
            record.take(self._current)
        return total * 2.0**-self.output.p_u / plan.readout_steps

    def _current(self, name: str) -> np.ndarray:
        """A recorded variable in float: ``POPULATION.COMPARTMENT`` or ``.rate``."""
        population, variable = name.rsplit(".", 1)
        pop = self.pops.get(population)
        if pop is not None and variable == "rate":
            return self.rate[population] * 2.0**-pop.p_r
        if pop is not None and variable in self.u.get(population, {}):
            return self.potential_of(population, variable)
        raise ValueError(f"mcdl.sim.fixed records no variable {name!r}")

    # -- What ``ProtocolRunner`` runs on -----------------------------------------

    @property
    def protocol(self) -> ir.Protocol:
        return self.network.protocol

    @property
    def input_size(self) -> int:
        return self.input.size

    @property
    def output_size(self) -> int:
        return self.output.size

    def _kept(self) -> dict:
        return self.snapshot()

    def _rewind(self, kept: dict) -> None:
        self.restore(kept)
