"""Locality of plasticity rules: a synapse may read only what it can see.

A rule may read the pre-synaptic rate (``pre.rate``), the post-synaptic
neuron's own compartments, their predictions and its rate (``post.soma``,
``post.site``, ``post.basal.prediction``, ``post.rate``), its own weight
(``w``), its parameters and constants; ``phi`` is the post-synaptic
neuron's transfer function. Rules checked here:

1. Nothing of the pre-synaptic neuron but its rate is read (E0501).
2. No population, layer or teaching target is read directly (E0501).
3. Every other name is one of the above (E0502), and every post-synaptic
   compartment exists in the population the rule is applied to (E0502).
"""

from __future__ import annotations

from mcdl import ir
from mcdl.diagnostics import Diagnostic, did_you_mean, error
from mcdl.passes.resolve import Scope

SITE = "site"


def check_ref(ref: ir.Ref, params: set[str], scope: Scope) -> Diagnostic | None:
    """Check one reference of a rule, independent of where the rule is used."""
    parts = ref.parts
    head = parts[0]
    if len(parts) == 1 and (head in params or head in scope.consts or head == "w"):
        return None
    if head == "pre":
        if parts[1:] == ("rate",):
            return None
        message = f"'{ref.dotted}' is not local: a synapse sees only 'pre.rate'"
        return error("E0501", ref.span, message)
    if head == "post" and len(parts) >= 2:
        if len(parts) == 2 or (len(parts) == 3 and parts[2] == "prediction"):
            return None
        message = f"'{ref.dotted}' is not a variable of the post-synaptic neuron"
        return error("E0502", ref.span, message)
    if head in scope.layers or head in scope.populations or head == "target":
        message = f"'{ref.dotted}' is not local: a rule cannot read another population"
        hint = (
            "read the post-synaptic neuron through 'post.' and the input via 'pre.rate'"
        )
        return error("E0501", ref.span, message, hint)
    message = f"rule reads the unknown name '{ref.dotted}'"
    known = sorted(params) + ["w", "pre.rate", "post.rate", "post.site"]
    return error("E0502", ref.span, message, did_you_mean(ref.dotted, known))


def resolve_post(
    ref: ir.Ref, population: ir.Population, site: str
) -> tuple[ir.Expr | None, Diagnostic | None]:
    """Map a ``post.`` reference onto the compartments of ``population``."""
    parts = list(ref.parts)
    if parts[1] == SITE:
        parts[1] = site
    if parts[1:] == ["rate"]:
        return ir.Ref(span=ref.span, parts=("post", "rate")), None
    names = [c.name for c in population.compartments]
    if parts[1] not in names:
        message = f"population '{population.name}' has no compartment '{parts[1]}'"
        return None, error("E0502", ref.span, message, did_you_mean(parts[1], names))
    compartment = population.compartment(parts[1])
    if len(parts) == 3 and compartment.prediction is None:
        message = (
            f"'{parts[1]}' of '{population.name}' has no prediction: only a dendrite "
            "coupled into an integrating compartment has one"
        )
        return None, error("E0902", ref.span, message)
    return ir.Ref(span=ref.span, parts=tuple(parts)), None


def refs(expr: ir.Expr) -> list[ir.Ref]:
    """Every reference in ``expr``, in order of appearance."""
    found: list[ir.Ref] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ir.Ref):
            found.append(node)
        elif isinstance(node, ir.Binary):
            stack.extend((node.right, node.left))
        elif isinstance(node, ir.Unary):
            stack.append(node.operand)
        elif isinstance(node, ir.Call):
            stack.extend(reversed([k.value for k in node.keywords]))
            stack.extend(reversed(node.args))
    return found


def check_rule(rule: ir.RuleDecl, scope: Scope) -> list[Diagnostic]:
    """Check every reference of ``rule``'s expressions."""
    params = {p.name.text for p in rule.params}
    diagnostics = []
    for setting in rule.settings:
        for ref in refs(setting.value):
            problem = check_ref(ref, params, scope)
            if problem is not None:
                diagnostics.append(problem)
    return diagnostics
