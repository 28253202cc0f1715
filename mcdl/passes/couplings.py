"""Neuron types: compartments, couplings and the rate.

Builds the network-level compartments of a population from its neuron type
and arguments, and derives each integrating compartment's total conductance
and each coupled dendrite's prediction factor. Rules checked here:

1. A neuron type declares each setting it uses once, and only known ones
   (``rate``; per compartment ``leak``, ``capacitance``, ``rest``, ``noise``,
   ``current``) (E0205).
2. A coupling names compartments of its neuron type (E0203), not the same
   compartment twice (E0301), and goes into an integrating compartment, since
   a dendrite has no dynamics of its own (E0302).
3. Conductances and capacitances are positive; leaks and noise are not
   negative (E0403).
4. A neuron type has a rate (E0303), and the rate reads only integrating
   compartments: dendrites are computed from the rates (E0304).
5. Arguments of an instance name parameters of its type (E0602).
"""

from __future__ import annotations

from mcdl import ir
from mcdl.diagnostics import did_you_mean, error
from mcdl.passes.functions import Inliner
from mcdl.passes.values import Quantity, Values

COMPARTMENT_SETTINGS = ("leak", "capacitance", "rest", "noise", "current")
NEURON_SETTINGS = ("rate",)


def neuron_env(
    neuron: ir.NeuronDecl, instance: ir.Instance, values: Values
) -> dict[str, Quantity] | None:
    """The parameter values of ``instance``, a population of ``neuron``."""
    diagnostics = values.diagnostics
    args = instance.args
    params = {p.name.text: p for p in neuron.params}
    env: dict[str, Quantity] = {}
    ok = True
    for arg in args:
        if arg.name not in params:
            message = f"neuron type '{neuron.name.text}' has no parameter '{arg.name}'"
            hint = did_you_mean(arg.name, params)
            diagnostics.append(error("E0602", arg.span, message, hint))
            ok = False
            continue
        value = values.quantity(arg.value, {})
        ok = ok and value is not None
        if value is not None:
            env[arg.name] = value
    for name, param in params.items():
        if name in env:
            continue
        if param.default is None:
            message = f"'{neuron.name.text}' needs the parameter '{name}'"
            hint = f"give it as {instance.neuron.text}({name} = ...)"
            diagnostics.append(error("E0602", instance.neuron.span, message, hint))
            ok = False
            continue
        value = values.quantity(param.default, {})
        ok = ok and value is not None
        if value is not None:
            env[name] = value
    return env if ok else None


def build_population(
    name: str,
    layer: str,
    size: int,
    neuron: ir.NeuronDecl,
    env: dict[str, Quantity],
    span,
    values: Values,
    inliner: Inliner,
) -> ir.Population | None:
    """The network-level population ``name`` of ``size`` neurons of ``neuron``."""
    diagnostics = values.diagnostics
    before = len(diagnostics)
    decls = {c.name.text: c for c in neuron.compartments}
    integrating = {n for n, c in decls.items() if not c.dendrite}

    def own_compartment(ref: ir.Ref) -> ir.Expr | None:
        if len(ref.parts) == 1 and ref.parts[0] in integrating:
            return ref
        if len(ref.parts) == 1 and ref.parts[0] in decls:
            message = f"'{ref.parts[0]}' is a dendrite; only integrating compartments "
            message += "may be read here"
            diagnostics.append(error("E0304", ref.span, message))
            return None
        message = f"undefined name '{ref.dotted}'"
        hint = did_you_mean(ref.dotted, list(decls) + list(env))
        diagnostics.append(error("E0201", ref.span, message, hint))
        return None

    couplings = _couplings(neuron, decls, env, values)
    built: dict[str, ir.Compartment] = {}
    for decl in neuron.compartments:
        if not decl.dendrite:
            built[decl.name.text] = _integrating(
                decl, couplings, env, values, inliner, own_compartment
            )
    for decl in neuron.compartments:
        if decl.dendrite:
            built[decl.name.text] = _dendrite(decl, couplings, built, values)
    compartments = [built[decl.name.text] for decl in neuron.compartments]

    settings = named_settings(neuron.settings, NEURON_SETTINGS, diagnostics)
    rate = None
    if "rate" not in settings:
        message = f"neuron type '{neuron.name.text}' has no 'rate = ...'"
        hint = "add for example 'rate = soft_relu(soma)'"
        diagnostics.append(error("E0303", neuron.name.span, message, hint))
    else:
        rate = inliner.inline(settings["rate"].value, env, own_compartment)

    if len(diagnostics) > before or rate is None or None in compartments:
        return None
    return ir.Population(
        span=span,
        name=name,
        layer=layer,
        size=size,
        neuron=neuron.name.text,
        compartments=tuple(compartments),
        couplings=tuple(couplings),
        rate=rate,
    )


def named_settings(settings, known, diagnostics) -> dict[str, ir.Setting]:
    """Return a block's settings by name, reporting unknown and repeated ones.

    Unknown names (E0205) and repeats (E0202) are left out of the result.
    """
    found: dict[str, ir.Setting] = {}
    for setting in settings:
        name = setting.name.text
        if name not in known:
            message = f"unknown setting '{name}'"
            hint = did_you_mean(name, known) or "known: " + ", ".join(known)
            diagnostics.append(error("E0205", setting.name.span, message, hint))
        elif name in found:
            message = f"'{name}' is already set at {found[name].span}"
            diagnostics.append(error("E0202", setting.name.span, message))
        else:
            found[name] = setting
    return found


def _couplings(neuron, decls, env, values: Values) -> list[ir.Coupling]:
    diagnostics = values.diagnostics
    couplings = []
    for decl in neuron.couplings:
        ok = True
        for end in (decl.source, decl.target):
            if end.text not in decls:
                message = f"'{neuron.name.text}' has no compartment '{end.text}'"
                hint = did_you_mean(end.text, decls)
                diagnostics.append(error("E0203", end.span, message, hint))
                ok = False
        if decl.conductance_name.text != "g":
            message = f"a coupling takes 'g = ...', not '{decl.conductance_name.text}'"
            diagnostics.append(error("E0205", decl.conductance_name.span, message))
            ok = False
        if not ok:
            continue
        if decl.source.text == decl.target.text:
            message = f"compartment '{decl.source.text}' is coupled to itself"
            diagnostics.append(error("E0301", decl.span, message))
            continue
        if decls[decl.target.text].dendrite:
            message = f"'{decl.target.text}' is a dendrite and cannot integrate input"
            hint = "couple dendrites into integrating compartments such as the soma"
            diagnostics.append(error("E0302", decl.target.span, message, hint))
            continue
        g = values.number(decl.conductance, env, "a conductance", positive=True)
        if g is not None:
            couplings.append(
                ir.Coupling(
                    span=decl.span,
                    source=decl.source.text,
                    target=decl.target.text,
                    conductance=g,
                )
            )
    return couplings


def _dendrite(decl, couplings, built, values: Values) -> ir.Compartment:
    name = decl.name.text
    named_settings(decl.settings, (), values.diagnostics)
    out = [c for c in couplings if c.source == name and c.target in built]
    prediction = None
    if out:
        into = built[out[0].target]
        prediction = ir.Prediction(
            span=out[0].span,
            into=into.name,
            factor=out[0].conductance / into.total_conductance,
        )
    return ir.Compartment(
        span=decl.span, name=name, kind="dendrite", prediction=prediction
    )


def _integrating(decl, couplings, env, values: Values, inliner, own) -> ir.Compartment:
    name = decl.name.text
    settings = named_settings(decl.settings, COMPARTMENT_SETTINGS, values.diagnostics)

    def number(key, default, **rules):
        if key not in settings:
            return default
        value = values.number(settings[key].value, env, f"'{key}'", **rules)
        return default if value is None else value

    leak = number("leak", 0.0, nonnegative=True)
    current = None
    if "current" in settings:
        current = inliner.inline(settings["current"].value, env, own)
    total = leak + sum(c.conductance for c in couplings if c.target == name)
    return ir.Compartment(
        span=decl.span,
        name=name,
        kind="integrating",
        leak=leak,
        capacitance=number("capacitance", 1.0, positive=True),
        rest=number("rest", 0.0),
        noise=number("noise", 0.0, nonnegative=True),
        current=current,
        total_conductance=total,
    )
