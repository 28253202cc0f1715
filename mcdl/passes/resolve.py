"""Name resolution: the scope of a network and the names it uses.

Rules checked here:

1. A spec declares a network (E0206); a second network in one file is
   reported too, since a build makes one package from one network.
2. No name is declared twice in one namespace: constants, neuron types,
   functions, rules, layers and inputs, populations of a layer, projections,
   compartments of a neuron type, parameters (E0202).
3. Every neuron type, rule and population that is used is declared (E0201,
   E0204), with a "did you mean" hint.
4. Every name that reaches generated code (network, layers, populations,
   compartments, projections) is a plain ASCII identifier, not a Python
   keyword, not starting with an underscore (so never a dunder) (E0105).
   Names that generated code derives from two of them do not clash: a
   population ``a.b_c`` and a population ``a_b.c`` would both be ``a_b_c``,
   layers ``hidden_1`` and ``hidden1`` would both name a class
   ``...Hidden1Layer``. The network's name, which is the generated package's,
   does not shadow a module the package or Python needs (``numpy``,
   ``lava``, ``json``, ...).
"""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass, field

from mcdl import ir
from mcdl.diagnostics import Diagnostic, did_you_mean, error

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

#: Modules a generated package imports, or Python's own: a package named like
#: one of them would hide it from everything imported after it.
SHADOWED_MODULES = frozenset(sys.stdlib_module_names) | {"numpy", "lava", "mcdl"}


@dataclass
class PopulationDecl:
    """A declared population: an input or a layer's instance of a neuron type."""

    name: str
    layer: str
    decl: ir.InputDecl | ir.Instance

    @property
    def is_input(self) -> bool:
        return isinstance(self.decl, ir.InputDecl)


@dataclass
class Scope:
    """Everything a network can refer to, by name."""

    network: ir.NetworkDecl
    consts: dict[str, ir.ConstDecl] = field(default_factory=dict)
    neurons: dict[str, ir.NeuronDecl] = field(default_factory=dict)
    functions: dict[str, ir.FunctionDecl] = field(default_factory=dict)
    rules: dict[str, ir.RuleDecl] = field(default_factory=dict)
    layers: dict[str, ir.Node] = field(default_factory=dict)
    populations: dict[str, PopulationDecl] = field(default_factory=dict)
    projections: dict[str, ir.ProjectionDecl] = field(default_factory=dict)

    def find_population(
        self, path: ir.PathRef
    ) -> tuple[PopulationDecl | None, tuple[ir.Name, ...], Diagnostic | None]:
        """Split ``path`` into a population and the rest of its parts.

        Returns the population (or None), the remaining parts, and the
        diagnostic explaining why no population was found.
        """
        first = path.parts[0]
        if first.text in self.populations and self.populations[first.text].is_input:
            return self.populations[first.text], path.parts[1:], None
        if first.text in self.layers and len(path.parts) >= 2:
            qualified = f"{first.text}.{path.parts[1].text}"
            if qualified in self.populations:
                return self.populations[qualified], path.parts[2:], None
            names = [p.split(".", 1)[1] for p in self.populations if "." in p]
            message = f"layer '{first.text}' has no population '{path.parts[1].text}'"
            hint = did_you_mean(path.parts[1].text, names)
            return None, (), error("E0204", path.parts[1].span, message, hint)
        if first.text in self.layers:
            message = f"'{first.text}' is a layer; name one of its populations"
            return None, (), error("E0204", path.span, message)
        known = list(self.layers) + [
            name for name, pop in self.populations.items() if pop.is_input
        ]
        message = f"no population or layer named '{first.text}'"
        return (
            None,
            (),
            error("E0204", first.span, message, did_you_mean(first.text, known)),
        )


def resolve(modules: list[ir.Module]) -> tuple[Scope | None, list[Diagnostic]]:
    """Build the scope of the network declared in the last of ``modules``."""
    diagnostics: list[Diagnostic] = []
    main = modules[-1]
    if not main.networks:
        message = "the spec declares no network"
        hint = "add 'network NAME { ... }'"
        return None, [error("E0206", main.span, message, hint)]
    for extra in main.networks[1:]:
        message = f"a spec declares one network; '{extra.name.text}' is a second"
        diagnostics.append(error("E0206", extra.name.span, message))

    network = main.networks[0]
    scope = Scope(network=network)
    seen_decls: set[tuple[str, int, int]] = set()
    for module in modules:
        for group, table in (
            (module.consts, scope.consts),
            (module.neurons, scope.neurons),
            (module.functions, scope.functions),
            (module.rules, scope.rules),
        ):
            for decl in group:
                key = (decl.span.path, decl.span.line, decl.span.column)
                if key not in seen_decls:
                    seen_decls.add(key)
                    _declare(table, decl.name, decl, diagnostics)
    for group, table in (
        (network.consts, scope.consts),
        (network.neurons, scope.neurons),
        (network.functions, scope.functions),
        (network.rules, scope.rules),
    ):
        for decl in group:
            _declare(table, decl.name, decl, diagnostics)

    _declare_populations(scope, diagnostics)
    for projection in network.projections:
        _declare(scope.projections, projection.name, projection, diagnostics)
        _check_identifier(projection.name, diagnostics)
    _check_identifier(network.name, diagnostics)
    _check_generated_names(scope, diagnostics)
    _check_neuron_types(scope, diagnostics)
    _check_uses(scope, diagnostics)
    return scope, diagnostics


def _declare(table: dict, name: ir.Name, decl, diagnostics: list[Diagnostic]) -> None:
    if name.text in table:
        first = table[name.text].span
        message = f"'{name.text}' is already declared at {first}"
        diagnostics.append(error("E0202", name.span, message))
        return
    table[name.text] = decl


def _check_identifier(name: ir.Name, diagnostics: list[Diagnostic]) -> None:
    text = name.text
    if _IDENTIFIER.match(text) and not keyword.iskeyword(text):
        return
    message = f"'{text}' cannot be used as a name in generated code"
    hint = "use ASCII letters, digits and '_', starting with a letter; no keyword"
    diagnostics.append(error("E0105", name.span, message, hint))


def _check_generated_names(scope: Scope, diagnostics: list[Diagnostic]) -> None:
    network = scope.network
    if network.name.text in SHADOWED_MODULES:
        message = (
            f"a package named '{network.name.text}' would hide the module of that "
            "name from the code that imports it"
        )
        hint = "choose a name that is not a Python module's"
        diagnostics.append(error("E0105", network.name.span, message, hint))
    keys: dict[str, str] = {}
    for population in scope.populations.values():
        key = population.name.replace(".", "_")
        other = keys.setdefault(key, population.name)
        if other != population.name:
            message = (
                f"'{other}' and '{population.name}' would both be '{key}' in "
                "generated code"
            )
            span = population.decl.name.span
            diagnostics.append(error("E0105", span, message, "rename one of them"))
    classes: dict[str, str] = {}
    for layer in network.layers:
        words = [w for w in re.split(r"[^A-Za-z0-9]+", layer.name.text) if w]
        key = "".join(w[0].upper() + w[1:] for w in words)
        other = classes.setdefault(key, layer.name.text)
        if other != layer.name.text:
            message = (
                f"layers '{other}' and '{layer.name.text}' would both be the "
                f"class '...{key}Layer' in generated code"
            )
            diagnostics.append(
                error("E0105", layer.name.span, message, "rename one of them")
            )


def _declare_populations(scope: Scope, diagnostics: list[Diagnostic]) -> None:
    network = scope.network
    for decl in network.inputs:
        _declare(scope.layers, decl.name, decl, diagnostics)
        _check_identifier(decl.name, diagnostics)
        scope.populations.setdefault(
            decl.name.text, PopulationDecl(decl.name.text, decl.name.text, decl)
        )
    for layer in network.layers:
        _declare(scope.layers, layer.name, layer, diagnostics)
        _check_identifier(layer.name, diagnostics)
        members: dict[str, ir.Instance] = {}
        for instance in layer.populations:
            _declare(members, instance.name, instance, diagnostics)
            _check_identifier(instance.name, diagnostics)
            qualified = f"{layer.name.text}.{instance.name.text}"
            scope.populations.setdefault(
                qualified, PopulationDecl(qualified, layer.name.text, instance)
            )


def _check_neuron_types(scope: Scope, diagnostics: list[Diagnostic]) -> None:
    for neuron in scope.neurons.values():
        compartments: dict[str, ir.CompartmentDecl] = {}
        for compartment in neuron.compartments:
            _declare(compartments, compartment.name, compartment, diagnostics)
            _check_identifier(compartment.name, diagnostics)
        _check_params(neuron.params, diagnostics)
    for rule in scope.rules.values():
        _check_params(rule.params, diagnostics)
    for function in scope.functions.values():
        _check_params(function.params, diagnostics)


def _check_params(params: tuple[ir.Param, ...], diagnostics: list[Diagnostic]) -> None:
    names: dict[str, ir.Param] = {}
    for param in params:
        _declare(names, param.name, param, diagnostics)


def _check_uses(scope: Scope, diagnostics: list[Diagnostic]) -> None:
    network = scope.network
    for layer in network.layers:
        for instance in layer.populations:
            if instance.neuron.text not in scope.neurons:
                message = f"no neuron type named '{instance.neuron.text}'"
                hint = did_you_mean(instance.neuron.text, scope.neurons)
                diagnostics.append(error("E0201", instance.neuron.span, message, hint))
    for projection in network.projections:
        for learn in projection.learns:
            if learn.rule.text not in scope.rules:
                message = f"no plasticity rule named '{learn.rule.text}'"
                hint = did_you_mean(learn.rule.text, scope.rules)
                diagnostics.append(error("E0201", learn.rule.span, message, hint))
        for path in (projection.source, projection.target):
            _, _, problem = scope.find_population(path)
            if problem is not None:
                diagnostics.append(problem)
    for nudge in network.nudges:
        for path in (nudge.target, nudge.source):
            if path is None:
                continue
            _, _, problem = scope.find_population(path)
            if problem is not None:
                diagnostics.append(problem)
    for protocol in network.protocols:
        for phase in protocol.phases:
            for name in phase.learn or ():
                if name.text in ("all", "none") or name.text in scope.projections:
                    continue
                message = f"no projection named '{name.text}'"
                hint = did_you_mean(name.text, scope.projections)
                diagnostics.append(error("E0201", name.span, message, hint))
