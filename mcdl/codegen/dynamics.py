"""One time step of ``docs/semantics.md``, lowered to lines of numpy code.

Both CPU layouts run the same step: the fused layout for every population of
the network inside one loop over a pattern, the layered layout for the
populations of one layer per Lava time step. The functions here write the
parts of that step for a chosen set of populations, in the order the
semantics gives them (filters, rates, dendrites, integrating compartments,
plasticity, then the new values replace the old), as ``Block`` lines. Every
value a part reads is a local variable named by ``Names``; where it comes
from (a local computation or the bus between layers) is the template's
business.

The code computes what ``mcdl.sim`` computes, to rounding: the same numpy
functions on the same values, sums added in the order of the IR, the
current of a compartment grouped as ``-G u + sum g_k V_k`` as the reference
groups it, and noise drawn in the same blocks from the same generators.
Where the fused layout keeps its values in buffers (``buffered``,
``consolidated``), the operations are the same, only done on many values at
once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from mcdl import ir
from mcdl.codegen import printer
from mcdl.codegen.printer import Binding, Py

WIDTH = 88
"""The line width of the generated code (ruff's, as in pyproject.toml)."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class CodegenError(ValueError):
    """A network the CPU back end cannot generate code for, with the reason."""


class Names:
    """The Python identifiers of a network's values in generated code.

    A population's name becomes a key with its dots replaced
    (``hidden.pyr`` is ``hidden_pyr``): its potentials are
    ``u_hidden_pyr_soma``, its dendrites ``v_hidden_pyr_basal``, its rate
    ``rate_hidden_pyr``; a projection's weights are ``weight_W_up1`` and its
    trace ``trace_W_up1``. The filtered input is the input's rate
    (``rate_x``) and the filtered target ``target_output_pyr``.

    So that lines stay within ``WIDTH``, a name longer than ``LONGEST`` is
    replaced by its kind and position: ``p2`` for the third population,
    ``c0`` for a population's first compartment, ``w4`` for the fifth
    projection. The messages keep every full name.

    Raises:
        CodegenError: a name does not make an identifier, or two names make
            the same one.
    """

    LONGEST = 20

    def __init__(self, network: ir.Network) -> None:
        self.network = network
        self._keys: dict[str, str] = {}
        self._compartments: dict[tuple[str, str], str] = {}
        self._projections: dict[str, str] = {}
        for index, population in enumerate(network.populations):
            key = population.name.replace(".", "_")
            self._check(key, f"population {population.name!r}")
            self._keys[population.name] = self._short(key, f"p{index}")
            for number, compartment in enumerate(population.compartments):
                what = f"compartment {population.name}.{compartment.name}"
                self._check(compartment.name, what)
                short = self._short(compartment.name, f"c{number}")
                self._compartments[population.name, compartment.name] = short
        for index, projection in enumerate(network.projections):
            self._check(projection.name, f"projection {projection.name!r}")
            short = self._short(projection.name, f"w{index}")
            self._projections[projection.name] = short
        self._check_unique()

    def _short(self, name: str, short: str) -> str:
        return name if len(name) <= self.LONGEST else short

    @staticmethod
    def _check(name: str, what: str) -> None:
        if not _IDENTIFIER.fullmatch(name):
            raise CodegenError(f"the {what} does not make a Python identifier")

    def _check_unique(self) -> None:
        seen: dict[str, str] = {}
        for what, name in self._all():
            if name in seen and seen[name] != what:
                raise CodegenError(
                    f"{seen[name]} and {what} are both {name!r} in generated code"
                )
            seen[name] = what

    def _all(self) -> Iterator[tuple[str, str]]:
        for population in self.network.populations:
            yield f"the rate of {population.name}", self.rate(population.name)
            yield f"the target of {population.name}", self.target(population.name)
            for compartment in population.compartments:
                what = f"compartment {population.name}.{compartment.name}"
                yield what, self.value(population.name, compartment.name)
        for projection in self.network.projections:
            yield f"projection {projection.name}", self.weight(projection.name)

    def key(self, population: str) -> str:
        return self._keys[population]

    def _compartment(self, population: str, compartment: str) -> str:
        return self._compartments[population, compartment]

    def potential(self, population: str, compartment: str) -> str:
        return f"u_{self.key(population)}_{self._compartment(population, compartment)}"

    def dendrite(self, population: str, compartment: str) -> str:
        return f"v_{self.key(population)}_{self._compartment(population, compartment)}"

    def local(self, population: str, compartment: str) -> str:
        """The key of a compartment in the names of its step's temporaries."""
        return f"{self.key(population)}_{self._compartment(population, compartment)}"

    def value(self, population: str, compartment: str) -> str:
        """The potential of an integrating compartment, or a dendrite's value."""
        kind = self.network.population(population).compartment(compartment).kind
        if kind == "dendrite":
            return self.dendrite(population, compartment)
        return self.potential(population, compartment)

    def rate(self, population: str) -> str:
        return f"rate_{self.key(population)}"

    def target(self, population: str) -> str:
        return f"target_{self.key(population)}"

    def current(self, population: str, compartment: str) -> str:
        return f"i_{self.local(population, compartment)}"

    def next(self, population: str, compartment: str) -> str:
        return f"next_{self.local(population, compartment)}"

    def noise(self, population: str, compartment: str) -> str:
        return f"noise_{self.local(population, compartment)}"

    def generator(self, population: str) -> str:
        return f"_generator_{self.key(population)}"

    def weight(self, projection: str) -> str:
        return f"weight_{self._projections[projection]}"

    def trace(self, projection: str) -> str:
        return f"trace_{self._projections[projection]}"

    def update(self, projection: str) -> str:
        return f"dw_{self._projections[projection]}"

    def learn(self, projection: str) -> str:
        return f"learn_{self._projections[projection]}"


class Block:
    """Lines of generated code, indented, each at most ``WIDTH`` columns."""

    def __init__(self, indent: int) -> None:
        self.lines: list[str] = []
        self.indent = indent

    def line(self, text: str = "") -> None:
        self.lines.append(f"{' ' * self.indent}{text}" if text else "")

    def comment(self, text: str) -> None:
        self.line(f"# {text}")

    def set(self, name: str, value: Py) -> None:
        """Write ``name = value``, split into temporaries if too long."""
        for line in printer.statement(name, value, width=WIDTH - self.indent):
            self.line(line)

    def start(self, name: str, value: Py, into: bool = False) -> None:
        """Write ``name = value`` as an array that ``add`` may add to in place.

        With ``into``, ``name`` is an existing array (a view of a buffer) that
        ``value`` is written into.
        """
        if into:
            width = WIDTH - self.indent
            for line in printer.statement_into(name, value, width=width):
                self.line(line)
            return
        text = printer.text(value)
        if printer.is_atomic(text):
            self.line(f"{name} = {text}.copy()")
        else:
            self.set(name, value)

    def add(self, name: str, value: Py) -> None:
        """Write ``name += value``, split into temporaries if too long."""
        width = WIDTH - self.indent
        for line in printer.statement(name, value, width=width, operator="+="):
            self.line(line)

    def into(
        self,
        name: str,
        expr: ir.Expr,
        refs: dict[str, Binding],
        axes: dict[str, str] | None = None,
    ) -> None:
        """Write the lines that compute a spec's expression into array ``name``."""
        width = WIDTH - self.indent
        for line in printer.assign_into(name, expr, refs, width=width, axes=axes):
            self.line(line)

    def expression(
        self,
        name: str,
        expr: ir.Expr,
        refs: dict[str, Binding],
        axes: dict[str, str] | None = None,
    ) -> None:
        """Write ``name = expr`` for an expression of the spec."""
        width = WIDTH - self.indent
        for line in printer.assign(name, expr, refs, width=width, axes=axes):
            self.line(line)

    @contextmanager
    def nested(self, header: str) -> Iterator[None]:
        """Write ``header`` (``if teach:``) and indent the lines written inside."""
        self.line(header)
        self.indent += 4
        try:
            yield
        finally:
            self.indent -= 4


def steps(network: ir.Network, duration: float) -> int:
    """The number of time steps in ``duration`` ms, as the semantics rounds it."""
    return int(round(duration / network.dt))


def noisy(population: ir.Population) -> list[ir.Compartment]:
    """The compartments of ``population`` that draw noise, in declaration order."""
    return [
        c for c in population.compartments if c.kind == "integrating" and c.noise > 0
    ]


def noise_scale(network: ir.Network, compartment: ir.Compartment) -> float:
    """``sigma * sqrt(dt)``, the factor of a compartment's standard normal draws."""
    return compartment.noise * math.sqrt(network.dt)


def readout(network: ir.Network) -> ir.Nudging:
    """The nudging from the target, whose compartment the read-out averages.

    Raises:
        CodegenError: the output has no nudging from the target.
    """
    for nudging in network.nudgings:
        if nudging.source is None and nudging.target == network.output:
            return nudging
    raise CodegenError(
        f"the output {network.output!r} has no nudging from the target, so its "
        "read-out compartment is not defined"
    )


class Step:
    """Writes the parts of one time step of ``network`` as code.

    Args:
        network: the checked network.
        names: the identifiers of its values.
    """

    def __init__(self, network: ir.Network, names: Names) -> None:
        self.network = network
        self.names = names
        try:
            self.input = network.population(network.input)
            self.output = network.population(network.output)
            self._check()
        except KeyError as error:
            (name,) = error.args
            raise CodegenError(
                f"the network refers to {name!r}, which it lacks"
            ) from None

    def _check(self) -> None:
        network = self.network
        if not self.input.is_input:
            raise CodegenError(f"the input {self.input.name!r} is a neuron population")
        for population in network.populations:
            if population.is_input and population is not self.input:
                raise CodegenError(
                    f"{population.name!r} is a second input: only "
                    f"{self.input.name!r} is given a pattern"
                )
        if self.output.is_input:
            raise CodegenError(f"the output {self.output.name!r} is an input")
        readout(network)
        for projection in network.projections:
            self._check_projection(projection)
        for nudging in network.nudgings:
            self._check_nudging(nudging)
        for phase in network.protocol.phases:
            for name in phase.learn:
                if not network.projection(name).plastic:
                    raise CodegenError(
                        f"phase {phase.name!r} lets {name!r} learn, which is not "
                        "a plastic projection"
                    )

    def _check_projection(self, projection: ir.Projection) -> None:
        source = self.network.population(projection.source)
        target = self.network.population(projection.target)
        what = f"projection {projection.name}"
        if target.is_input:
            raise CodegenError(f"{what} targets the input {target.name!r}")
        target.compartment(projection.compartment)
        if projection.one_to_one and source.size != target.size:
            raise CodegenError(f"{what} is one to one but its sizes differ")
        if projection.source_var != "rate":
            if source.is_input:
                raise CodegenError(f"{what}: the input sends only its rate")
            if source.compartment(projection.source_var).kind != "integrating":
                raise CodegenError(
                    f"{what} sends {source.name}.{projection.source_var}, which is "
                    "not an integrating compartment"
                )

    def _check_nudging(self, nudging: ir.Nudging) -> None:
        what = f"the nudging of {nudging.target}.{nudging.compartment}"
        target = self.network.population(nudging.target)
        if target.compartment(nudging.compartment).kind != "integrating":
            raise CodegenError(f"{what} is onto a dendrite")
        if nudging.form == "conductance" and nudging.e_exc == nudging.e_inh:
            raise CodegenError(f"{what}: the conductance form needs E_exc != E_inh")
        if nudging.source is None:
            if target.size != self.output.size:
                raise CodegenError(f"{what} is from the target, of another size")
            return
        source = self.network.population(nudging.source)
        if nudging.source_compartment is None or source.is_input:
            raise CodegenError(f"{what} must name a compartment of its source")
        if source.compartment(nudging.source_compartment).kind != "integrating":
            raise CodegenError(f"{what} is from a dendrite")
        if source.size != target.size:
            raise CodegenError(f"{what} is one to one but its sizes differ")

    # -- 1. Filters ----------------------------------------------------------

    def filters(self, block: Block, pattern: str, target: str) -> None:
        """Move the filtered input (and the target, when shown) one step."""
        x = self.names.rate(self.input.name)
        t = self.names.target(self.output.name)
        lowpass = self.network.protocol.lowpass
        if lowpass == 0:
            block.line(f"{x} = {pattern}")
            with block.nested("if has_target:"):
                block.line(f"{t} = {target}")
            return
        gain = self.network.dt / lowpass
        block.set(x, Py(x) + gain * (Py(pattern) - Py(x)))
        with block.nested("if has_target:"):
            block.set(t, Py(t) + gain * (Py(target) - Py(t)))

    # -- 2. Rates ------------------------------------------------------------

    def shared_rate(self, populations: Sequence[ir.Population]) -> ir.Expr | None:
        """The rate expression all ``populations`` share, over ``potentials``.

        When every population has one integrating compartment and the same
        rate expression of it, all rates are one computation over the buffer
        of the potentials (in ``potentials``); then this is that expression,
        with the compartment's name replaced by ``potentials``. Else None.
        """
        shared = None
        for population in populations:
            integrating = [
                c for c in population.compartments if c.kind == "integrating"
            ]
            if population.rate is None or len(integrating) != 1:
                return None
            name = integrating[0].name
            expr = printer.rename(
                population.rate,
                lambda parts, name=name: ("potentials",) if parts == (name,) else parts,
            )
            if shared is None:
                shared = expr
            elif not printer.equal(shared, expr):
                return None
        if shared is None or printer.is_constant(shared, {"potentials": "potentials"}):
            return None
        return shared

    def rates(
        self,
        block: Block,
        populations: Iterable[ir.Population],
        shared: ir.Expr | None = None,
    ) -> None:
        """Compute ``r = rate(u)`` of each neuron population from step ``n``.

        With ``shared`` (see ``shared_rate``), the rates are written into the
        buffer ``rates`` at once.
        """
        if shared is not None:
            try:
                block.into("rates", shared, {"potentials": "potentials"})
            except printer.PrintError as error:
                raise CodegenError(f"the rates: {error}") from None
            return
        for population in populations:
            if population.is_input:
                continue
            if population.rate is None:
                raise CodegenError(f"{population.name} has no rate expression")
            refs: dict[str, Binding] = {
                c.name: self.names.potential(population.name, c.name)
                for c in population.compartments
                if c.kind == "integrating"
            }
            name = self.names.rate(population.name)
            self._expression(block, name, population.rate, refs, population.size)

    def _expression(
        self,
        block: Block,
        name: str,
        expr: ir.Expr,
        refs: dict[str, Binding],
        size: int,
    ) -> None:
        """Write ``name = expr``; a constant becomes ``size`` copies of it."""
        try:
            if printer.is_constant(expr, refs):
                value = printer.to_python(expr, refs)
                block.line(f"{name} = np.full({size}, {value})")
                return
            block.expression(name, expr, refs)
        except printer.PrintError as error:
            raise CodegenError(f"{name}: {error}") from None

    # -- 3. Dendrites --------------------------------------------------------

    def drives(self, population: str, compartment: str) -> list[Py]:
        """``W @ s`` (or ``W * s``) of every projection onto a compartment."""
        terms = []
        for projection in self.network.projections:
            if (projection.target, projection.compartment) != (population, compartment):
                continue
            weight = self.names.weight(projection.name)
            source = self.source(projection)
            operator = "*" if projection.one_to_one else "@"
            terms.append(Py(f"{weight} {operator} {source}"))
        return terms

    def source(self, projection: ir.Projection) -> str:
        """The variable a projection sends: the source's rate or a potential."""
        if projection.source_var == "rate":
            return self.names.rate(projection.source)
        return self.names.potential(projection.source, projection.source_var)

    def dendrites(self, block: Block, populations: Iterable[ir.Population]) -> None:
        """Compute each dendrite as the sum of its projections (0 without any)."""
        for population in populations:
            for compartment in population.compartments:
                if compartment.kind != "dendrite":
                    continue
                name = self.names.dendrite(population.name, compartment.name)
                terms = self.drives(population.name, compartment.name)
                if not terms:
                    block.line(f"{name} = np.zeros({population.size})")
                    continue
                block.start(name, terms[0])
                for term in terms[1:]:
                    block.add(name, term)

    # -- 4. Integrating compartments -----------------------------------------

    def compartments(
        self,
        block: Block,
        populations: Iterable[ir.Population],
        row: str,
        buffered: bool = False,
    ) -> None:
        """Compute the currents (or new potentials) of the integrating compartments.

        Args:
            block: where to write.
            populations: the populations to update.
            row: the index of this step's row in the noise arrays.
            buffered: the potentials and the currents are views of buffers
                that ``commit`` moves at once, noise and all; otherwise each
                compartment's new potential ``next_...`` is computed here,
                noise included.
        """
        exponential = self.network.integration == "exponential"
        for population in populations:
            noisy_compartments = {c.name for c in noisy(population)}
            for compartment in population.compartments:
                if compartment.kind != "integrating":
                    continue
                if exponential:
                    self._exponential(block, population, compartment)
                else:
                    self._euler(block, population, compartment, buffered)
                if compartment.name in noisy_compartments and not buffered:
                    name = self.names.next(population.name, compartment.name)
                    noise = self.names.noise(population.name, compartment.name)
                    with block.nested("if noisy:"):
                        block.line(f"{name} += {noise}[{row}]")

    def _couplings(
        self, population: ir.Population, compartment: ir.Compartment
    ) -> list[tuple[float, str]]:
        couplings = []
        for coupling in population.couplings:
            if coupling.target != compartment.name:
                continue
            if coupling.source == compartment.name:
                raise CodegenError(
                    f"{population.name}.{compartment.name} is coupled to itself"
                )
            source = self.names.value(population.name, coupling.source)
            couplings.append((coupling.conductance, source))
        return couplings

    def _nudgings(
        self, population: ir.Population, compartment: ir.Compartment
    ) -> list[ir.Nudging]:
        return [
            n
            for n in self.network.nudgings
            if (n.target, n.compartment) == (population.name, compartment.name)
        ]

    def _signal(self, nudging: ir.Nudging) -> str:
        if nudging.source is None:
            return self.names.target(self.network.output)
        assert nudging.source_compartment is not None
        return self.names.potential(nudging.source, nudging.source_compartment)

    @contextmanager
    def _teaching(self, block: Block, nudging: ir.Nudging) -> Iterator[None]:
        """Write the lines inside ``if teach:`` for the target's nudging."""
        if nudging.source is None:
            with block.nested("if teach:"):
                yield
        else:
            yield

    def _euler(
        self,
        block: Block,
        population: ir.Population,
        compartment: ir.Compartment,
        buffered: bool,
    ) -> None:
        """``u + (dt / C) I`` with ``I = -G u + g_lk E + sum g_k V_k + ...``.

        ``G`` gathers the leak and the conductances that are always on (the
        couplings and the current-form nudgings from other populations), so
        that each of those terms costs one operation; the teacher's nudging
        and the conductance form are added as the semantics writes them.
        Grouping ``g_k (V_k - u)`` as ``g_k V_k - g_k u`` changes only
        rounding, as in ``mcdl.sim``.
        """
        u = Py(self.names.potential(population.name, compartment.name))
        current = self.names.current(population.name, compartment.name)
        couplings = self._couplings(population, compartment)
        nudgings = self._nudgings(population, compartment)
        fixed = compartment.leak
        for conductance, _ in couplings:
            fixed += conductance
        for nudging in nudgings:
            if nudging.source is not None and nudging.form == "current":
                fixed += nudging.conductance
        terms = [-fixed * u] if fixed != 0.0 else []
        if compartment.leak * compartment.rest != 0.0:
            terms.append(Py(compartment.leak * compartment.rest))
        terms += [conductance * Py(source) for conductance, source in couplings]
        terms += self.drives(population.name, compartment.name)
        always = [n for n in nudgings if n.source is not None and n.form == "current"]
        terms += [n.conductance * Py(self._signal(n)) for n in always]
        if terms:
            block.start(current, terms[0], into=buffered)
        elif buffered:
            block.line(f"{current}[...] = 0.0")
        else:
            block.line(f"{current} = np.zeros({population.size})")
        for term in terms[1:]:
            block.add(current, term)
        index = 0
        for nudging in nudgings:
            if nudging in always:
                continue
            signal = Py(self._signal(nudging))
            with self._teaching(block, nudging):
                if nudging.form == "current":
                    block.add(current, nudging.conductance * (signal - u))
                    continue
                g_exc, g_inh = self._conductances(block, population, nudging, index)
                index += 1
                excitation = g_exc * (nudging.e_exc - u)
                block.add(current, excitation + g_inh * (nudging.e_inh - u))
        if compartment.current is not None:
            name = f"{current}_declared"
            refs: dict[str, Binding] = {
                c.name: self.names.value(population.name, c.name)
                for c in population.compartments
            }
            self._expression(block, name, compartment.current, refs, population.size)
            block.line(f"{current} += {name}")
        if not buffered:
            step = self.network.dt / compartment.capacitance
            name = self.names.next(population.name, compartment.name)
            block.set(name, u + step * Py(current))

    def _conductances(
        self,
        block: Block,
        population: ir.Population,
        nudging: ir.Nudging,
        index: int,
    ) -> tuple[Py, Py]:
        """Write ``g_exc`` and ``g_inh`` of a conductance-form nudging.

        ``index`` counts the compartment's nudgings in conductance form.
        """
        key = self.names.local(population.name, nudging.compartment)
        key += f"_{index + 1}" if index else ""
        signal = Py(self._signal(nudging))
        span = nudging.e_exc - nudging.e_inh
        g = nudging.conductance
        block.set(f"g_exc_{key}", g * (signal - nudging.e_inh) / span)
        block.set(f"g_inh_{key}", -g * (signal - nudging.e_exc) / span)
        return Py(f"g_exc_{key}"), Py(f"g_inh_{key}")

    def _exponential(
        self, block: Block, population: ir.Population, compartment: ir.Compartment
    ) -> None:
        """``u_inf + (u - u_inf) exp(-dt G / C)`` with ``I = A - G u``."""
        if compartment.current is not None:
            raise CodegenError(
                f"{population.name}.{compartment.name} declares a current, which "
                "the exponential integration does not allow"
            )
        key = self.names.local(population.name, compartment.name)
        u = Py(self.names.potential(population.name, compartment.name))
        drive, conductance = f"a_{key}", f"g_{key}"
        fixed = compartment.leak
        for g, _ in self._couplings(population, compartment):
            fixed = float(fixed + g)
        terms = [Py(compartment.leak * compartment.rest)]
        terms += [
            g * Py(source) for g, source in self._couplings(population, compartment)
        ]
        terms += self.drives(population.name, compartment.name)
        if compartment.leak * compartment.rest == 0.0 and len(terms) > 1:
            terms = terms[1:]
        block.start(drive, terms[0])
        for term in terms[1:]:
            block.add(drive, term)
        block.line(f"{conductance} = {printer.text(Py(fixed))}")
        index = 0
        for nudging in self._nudgings(population, compartment):
            signal = Py(self._signal(nudging))
            with self._teaching(block, nudging):
                if nudging.form == "current":
                    block.add(drive, nudging.conductance * signal)
                    block.add(conductance, Py(nudging.conductance))
                    continue
                g_exc, g_inh = self._conductances(block, population, nudging, index)
                index += 1
                block.add(drive, g_exc * nudging.e_exc + g_inh * nudging.e_inh)
                block.set(conductance, Py(conductance) + (g_exc + g_inh))
        if fixed == 0.0 and not any(
            n.source is not None for n in self._nudgings(population, compartment)
        ):
            raise CodegenError(
                f"{population.name}.{compartment.name} has no leak, coupling or "
                "always-on nudging, so the exponential update would divide by zero"
            )
        equilibrium, decay = f"u_inf_{key}", f"decay_{key}"
        block.set(equilibrium, Py(drive) / Py(conductance))
        exponent = Py(-self.network.dt) * Py(conductance) / compartment.capacitance
        block.line(f"{decay} = np.exp({printer.text(exponent)})")
        name = self.names.next(population.name, compartment.name)
        block.set(name, Py(equilibrium) + (u - Py(equilibrium)) * Py(decay))

    # -- 5. Plasticity -------------------------------------------------------

    def plasticity(
        self,
        block: Block,
        projections: Sequence[ir.Projection],
        consolidated: bool = False,
    ) -> None:
        """Move the weights (and traces) of the projections that learn.

        With a low-pass, ``W <- W + dt D`` with the trace of step ``n``, then
        ``D <- D + (dt / tau_w) (e - D)``; without, ``W <- W + dt e``.

        Args:
            block: where to write.
            projections: the plastic projections.
            consolidated: the weights, traces and updates are views of flat
                buffers (see ``consolidation``): each rule writes its update
                into its view, then the runs of projections that learn move
                together (``filtered_runs`` with a low-pass, ``direct_runs``
                without); otherwise each projection moves on its own.
        """
        dt = self.network.dt
        for projection in projections:
            plasticity = projection.plasticity
            assert plasticity is not None
            if plasticity.lowpass is not None and plasticity.lowpass <= 0:
                raise CodegenError(
                    f"the low-pass of {projection.name} must be positive"
                )
            weight = self.names.weight(projection.name)
            update = self.names.update(projection.name)
            with block.nested(f"if {self.names.learn(projection.name)}:"):
                self._rule(block, projection, into=consolidated)
                if consolidated:
                    continue
                if plasticity.lowpass is None:
                    block.add(weight, dt * Py(update))
                    continue
                trace = self.names.trace(projection.name)
                block.add(weight, dt * Py(trace))
                block.add(trace, (dt / plasticity.lowpass) * (Py(update) - Py(trace)))
        if not consolidated:
            return
        filtered, direct = self.consolidation(projections)
        if filtered:
            gains = {dt / p.plasticity.lowpass for p in filtered if p.plasticity}
            header = "for weight, trace, update, change in filtered_runs:"
            gain = printer.text(Py(gains.pop())) if len(gains) == 1 else "gain"
            if gain == "gain":
                header = header.replace("change in", "change, gain in")
            with block.nested(header):
                block.line(f"np.multiply(trace, {printer.text(Py(dt))}, out=change)")
                block.line("weight += change")
                block.line("np.subtract(update, trace, out=change)")
                block.line(f"change *= {gain}")
                block.line("trace += change")
        if direct:
            with block.nested("for weight, update, change in direct_runs:"):
                block.line(f"np.multiply(update, {printer.text(Py(dt))}, out=change)")
                block.line("weight += change")

    @staticmethod
    def consolidation(
        projections: Iterable[ir.Projection],
    ) -> tuple[list[ir.Projection], list[ir.Projection]]:
        """The plastic projections with a low-pass, and those without, in order."""
        plastic = [p for p in projections if p.plasticity is not None]
        filtered = [p for p in plastic if p.plasticity.lowpass is not None]
        direct = [p for p in plastic if p.plasticity.lowpass is None]
        return filtered, direct

    def _rule(self, block: Block, projection: ir.Projection, into: bool) -> None:
        """Write ``dw = <the rule's update>`` (or into ``dw``) from step ``n``."""
        plasticity = projection.plasticity
        assert plasticity is not None
        target = self.network.population(projection.target)
        refs: dict[str, Binding] = {
            "w": self.names.weight(projection.name),
            "pre.rate": self.names.rate(projection.source),
            "post.rate": self.names.rate(target.name),
        }
        for compartment in target.compartments:
            refs[f"post.{compartment.name}"] = self.names.value(
                target.name, compartment.name
            )
            if compartment.prediction is not None:
                post = Py(f"post.{compartment.name}").expr
                factor = compartment.prediction.factor
                refs[f"post.{compartment.name}.prediction"] = (factor * Py(post)).expr
        axes = None
        if not projection.one_to_one:
            axes = {name: "post" for name in refs if name.startswith("post.")}
            axes.update({"pre.rate": "pre", "w": "both"})
        update = plasticity.update
        if target.rate is not None:
            rate = printer.rename(target.rate, lambda parts: ("post", *parts))
            rate_ref = Py("post.rate").expr
            update = printer.substitute(update, rate, rate_ref)
        name = self.names.update(projection.name)
        try:
            if into:
                block.into(name, update, refs, axes)
            else:
                block.expression(name, update, refs, axes)
        except printer.PrintError as error:
            raise CodegenError(
                f"the rule {plasticity.rule} of {projection.name}: {error}"
            ) from None

    # -- 6. New values -------------------------------------------------------

    def commit(
        self,
        block: Block,
        populations: Iterable[ir.Population],
        buffered: bool = False,
        noise: str = "",
    ) -> None:
        """Replace every potential by its new value, at the end of the step.

        Args:
            block: where to write.
            populations: the populations to update.
            buffered: the potentials are views of the buffer ``potentials``
                and the currents of ``currents`` (see ``compartments``): all
                move at once by ``(dt / C) I`` (``steps`` holds ``dt / C`` if
                the capacitances differ), then ``noise`` (the step's row of
                the whole buffer's noise) is added.
            noise: the statement that adds the noise, when ``buffered``.
        """
        exponential = self.network.integration == "exponential"
        populations = list(populations)
        integrating = [
            (population, compartment)
            for population in populations
            for compartment in population.compartments
            if compartment.kind == "integrating"
        ]
        for population, compartment in integrating:
            u = self.names.potential(population.name, compartment.name)
            new = self.names.next(population.name, compartment.name)
            if not buffered:
                block.line(f"{u} = {new}")
            elif exponential:
                block.line(f"{u}[...] = {new}")
        if buffered and not exponential and integrating:
            steps = {self.network.dt / c.capacitance for _, c in integrating}
            step = printer.text(Py(steps.pop())) if len(steps) == 1 else "steps"
            block.line(f"currents *= {step}")
            block.line("potentials += currents")
        if buffered and noise and any(noisy(p) for p in populations):
            with block.nested("if noisy:"):
                block.line(noise)
