"""Projections, nudgings and their shapes.

Rules checked here:

1. A projection's source is a population (its rate), ``POP.rate``, or an
   integrating compartment of it (its potential) (E0803); its target is a
   compartment of a neuron population (E0203), never an input (E0802).
2. One-to-one projections and nudgings join populations of the same size
   (E0801).
3. A nudging goes onto an integrating compartment, from the target or from an
   integrating compartment of another population (E0203, E0803); its
   conductance is positive and the conductance form names distinct
   ``E_exc`` and ``E_inh`` (E0403, E0602).
4. An initialiser is one of ``constant(v)``, ``uniform(low, high, seed)``,
   ``normal(mean, std, seed)``, ``file("w.npy")``, ``self_predicting()``
   with valid arguments (E0805); a projection has at most one ``init`` and
   one ``learn`` (E0202).
5. The weights of all projections fit in memory, and so do the arrays a run
   allocates at once: a pattern lasts at most ``MAX_STEPS`` steps, a pattern's
   noise (steps x potentials) and a phase's patterns (patterns x inputs) hold
   at most ``MAX_WEIGHTS`` values (E0804). All are computed from sizes before
   anything is allocated.
"""

from __future__ import annotations

import math

from mcdl import ir
from mcdl.diagnostics import Diagnostic, did_you_mean, error
from mcdl.passes.values import Values

#: The most weights a network may hold: float64 weights, traces and copies of
#: 2**30 weights take about 24 GiB, the memory of the machines mcdl targets.
MAX_WEIGHTS = 2**28

#: The most time steps in one pattern.
MAX_STEPS = 10**7

INITIALISERS = ("constant", "uniform", "normal", "file", "self_predicting")


def endpoint(path: ir.PathRef, scope, populations, diagnostics):
    """Return (population, rest of the path) of ``path``, or (None, ())."""
    decl, rest, problem = scope.find_population(path)
    if problem is not None or decl is None:
        return None, ()
    population = populations.get(decl.name)
    return population, rest


def source_var(
    path: ir.PathRef, population: ir.Population, rest, diagnostics
) -> str | None:
    """The variable a projection or nudging reads: 'rate' or a compartment."""
    if not rest:
        return "rate"
    if len(rest) == 1 and rest[0].text == "rate":
        return "rate"
    names = [c.name for c in population.compartments]
    if len(rest) == 1 and rest[0].text in names:
        if population.compartment(rest[0].text).kind == "integrating":
            return rest[0].text
        message = (
            f"'{rest[0].text}' is a dendrite; send a rate or an integrating potential"
        )
        diagnostics.append(error("E0803", rest[0].span, message))
        return None
    message = f"'{path.dotted}' is not a population, its rate or its compartment"
    hint = did_you_mean(rest[0].text, names + ["rate"])
    diagnostics.append(error("E0803", path.span, message, hint))
    return None


def target_compartment(
    path: ir.PathRef, population: ir.Population, rest, diagnostics
) -> str | None:
    """The compartment a projection or nudging lands on."""
    if population.is_input:
        message = f"'{population.name}' is an input; nothing can project onto it"
        diagnostics.append(error("E0802", path.span, message))
        return None
    names = [c.name for c in population.compartments]
    if len(rest) != 1:
        message = f"'{path.dotted}' must name a compartment of '{population.name}'"
        hint = "compartments: " + ", ".join(names)
        diagnostics.append(error("E0203", path.span, message, hint))
        return None
    if rest[0].text not in names:
        message = f"'{population.name}' has no compartment '{rest[0].text}'"
        hint = did_you_mean(rest[0].text, names)
        diagnostics.append(error("E0203", rest[0].span, message, hint))
        return None
    return rest[0].text


def check_one_to_one(span, what, size_a, size_b, diagnostics) -> bool:
    """Report a one-to-one connection between populations of different sizes."""
    if size_a == size_b:
        return True
    message = f"{what} is one-to-one but joins sizes {size_a} and {size_b}"
    diagnostics.append(error("E0801", span, message))
    return False


def build_init(decl: ir.InitDecl, values: Values) -> ir.Init | None:
    """The network-level initialiser of ``decl`` (self-predicting: a marker)."""
    diagnostics = values.diagnostics
    name = decl.func.text
    if name not in INITIALISERS:
        message = f"unknown initialiser '{name}'"
        hint = did_you_mean(name, INITIALISERS) or "known: " + ", ".join(INITIALISERS)
        diagnostics.append(error("E0805", decl.func.span, message, hint))
        return None
    if name == "file":
        if len(decl.strings) != 1 or decl.args or decl.keywords:
            message = 'file() takes one path in quotes: file("weights.npy")'
            diagnostics.append(error("E0805", decl.span, message))
            return None
        path = decl.strings[0]
        if not path or not path.isprintable():
            message = f"{path!r} is not a file name: empty, or with control characters"
            diagnostics.append(error("E0805", decl.span, message))
            return None
        return ir.FileInit(span=decl.span, path=path)
    if decl.strings:
        diagnostics.append(error("E0805", decl.span, f"{name}() takes no strings"))
        return None
    params = {
        "constant": ("value",),
        "uniform": ("low", "high", "seed"),
        "normal": ("mean", "std", "seed"),
        "self_predicting": (),
    }[name]
    bound = _bind(decl, params, values)
    if bound is None:
        return None
    if name == "self_predicting":
        return ir.SelfPredictingInit(span=decl.span, source="", factor=0.0)
    if name == "constant":
        return ir.ConstantInit(span=decl.span, value=bound["value"])
    seed = values.checked(bound["seed"], decl.span, "a seed", False, True, True)
    if seed is None:
        return None
    if name == "uniform":
        if bound["low"] >= bound["high"]:
            message = "uniform(low, high, seed) needs low < high"
            diagnostics.append(error("E0805", decl.span, message))
            return None
        if not math.isfinite(bound["high"] - bound["low"]):
            message = "uniform(low, high, seed) needs a finite high - low"
            diagnostics.append(error("E0805", decl.span, message))
            return None
        return ir.UniformInit(
            span=decl.span, low=bound["low"], high=bound["high"], seed=int(seed)
        )
    if bound["std"] < 0:
        diagnostics.append(error("E0805", decl.span, "normal() needs std >= 0"))
        return None
    return ir.NormalInit(
        span=decl.span, mean=bound["mean"], std=bound["std"], seed=int(seed)
    )


def _bind(decl: ir.InitDecl, params, values: Values) -> dict[str, float] | None:
    diagnostics = values.diagnostics
    name = decl.func.text
    given: dict[str, ir.Expr] = dict(zip(params, decl.args, strict=False))
    if len(decl.args) > len(params):
        message = f"{name}() takes {len(params)} arguments, not {len(decl.args)}"
        diagnostics.append(error("E0805", decl.span, message))
        return None
    for keyword in decl.keywords:
        if keyword.name not in params or keyword.name in given:
            message = f"{name}() has no further parameter '{keyword.name}'"
            hint = did_you_mean(keyword.name, params)
            diagnostics.append(error("E0805", keyword.span, message, hint))
            return None
        given[keyword.name] = keyword.value
    missing = [p for p in params if p not in given]
    if missing:
        signature = f"{name}({', '.join(params)})"
        message = f"{signature} is missing {', '.join(missing)}"
        diagnostics.append(error("E0805", decl.span, message))
        return None
    bound = {}
    for param, expr in given.items():
        value = values.number(expr, {}, f"'{param}'")
        if value is None:
            return None
        bound[param] = value
    return bound


def check_memory(network_span, projections, populations, diagnostics) -> bool:
    """Report a network whose weights would not fit in memory (E0804)."""
    total = 0
    for projection in projections:
        target = populations[projection.target].size
        source = populations[projection.source].size
        total += target if projection.one_to_one else target * source
    if total <= MAX_WEIGHTS:
        return True
    message = (
        f"the network has {total:,} weights; at most {MAX_WEIGHTS:,} fit in memory"
    )
    diagnostics.append(error("E0804", network_span, message))
    return False


def check_run_memory(protocol: ir.Protocol, dt: float, populations, diagnostics):
    """Report a protocol whose runs would allocate too much at once (E0804)."""
    steps = round(protocol.pattern / dt)
    neurons = [p for p in populations.values() if not p.is_input]
    potentials = sum(
        p.size for p in neurons for c in p.compartments if c.kind == "integrating"
    )
    noisy = any(c.noise > 0 for p in neurons for c in p.compartments)
    if noisy and steps * potentials > MAX_WEIGHTS:
        message = (
            f"a pattern's noise is {steps:,} steps x {potentials:,} potentials; "
            f"at most {MAX_WEIGHTS:,} values fit in memory"
        )
        diagnostics.append(error("E0804", protocol.span, message))
    inputs = sum(p.size for p in populations.values() if p.is_input)
    for phase in protocol.phases:
        if phase.patterns is not None and phase.patterns * inputs > MAX_WEIGHTS:
            message = (
                f"phase '{phase.name}' shows {phase.patterns:,} patterns of "
                f"{inputs:,} inputs; at most {MAX_WEIGHTS:,} values fit in memory"
            )
            diagnostics.append(error("E0804", phase.span, message))


def check_size(values: Values, expr: ir.Expr, what: str) -> int | None:
    """A population size: a positive whole number, at most 10**7."""
    size = values.number(expr, {}, what, positive=True, whole=True)
    if size is None:
        return None
    if size > 10**7:
        message = f"{what} is {int(size):,}; at most 10,000,000 neurons are supported"
        values.diagnostics.append(error("E0804", expr.span, message))
        return None
    return int(size)


def first(decls, what: str, diagnostics: list[Diagnostic]):
    """The first of ``decls``, reporting every further one as a duplicate."""
    for extra in decls[1:]:
        message = f"a projection takes one '{what}'; this is a second"
        diagnostics.append(error("E0202", extra.span, message))
    return decls[0] if decls else None
