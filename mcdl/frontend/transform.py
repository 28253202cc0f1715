"""The Lark tree of one file to the spec-level IR (``mcdl.ir.Module``).

The transformer only builds nodes and spans; it checks nothing that the
grammar has not already checked, except that a string's escapes are valid.
"""

from __future__ import annotations

import re

import lark
from lark import Token, Transformer, v_args

from mcdl import ir
from mcdl.source import Span


def to_module(tree: lark.Tree, path: str) -> ir.Module:
    """Build the ``Module`` of the file ``path`` from its parse tree."""
    return _ToIR(path).transform(tree)


@v_args(meta=True)
class _ToIR(Transformer):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.file = path

    # -- helpers --------------------------------------------------------

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span.point(self.file, 1, 1)
        return Span(
            path=self.file,
            line=meta.line,
            column=meta.column,
            end_line=meta.end_line,
            end_column=meta.end_column,
        )

    def _token_span(self, token: Token) -> Span:
        return Span(
            path=self.file,
            line=token.line,
            column=token.column,
            end_line=token.end_line,
            end_column=token.end_column,
        )

    def _name(self, token: Token) -> ir.Name:
        return ir.Name(span=self._token_span(token), text=str(token))

    # -- file level -----------------------------------------------------

    def start(self, meta, items):
        groups: dict[str, list] = {
            "imports": [],
            "consts": [],
            "neurons": [],
            "functions": [],
            "rules": [],
            "networks": [],
        }
        for item in items:
            groups[_GROUP[type(item)]].append(item)
        return ir.Module(
            span=self._span(meta), **{k: tuple(v) for k, v in groups.items()}
        )

    def import_decl(self, meta, children):
        (string,) = children
        return ir.ImportDecl(span=self._span(meta), path=_unquote(string))

    def const_decl(self, meta, children):
        name, value = children
        return ir.ConstDecl(span=self._span(meta), name=self._name(name), value=value)

    # -- neurons --------------------------------------------------------

    def neuron_decl(self, meta, children):
        name, params, *items = children
        return ir.NeuronDecl(
            span=self._span(meta),
            name=self._name(name),
            params=params or (),
            compartments=tuple(i for i in items if isinstance(i, ir.CompartmentDecl)),
            couplings=tuple(i for i in items if isinstance(i, ir.CouplingDecl)),
            settings=tuple(i for i in items if isinstance(i, ir.Setting)),
        )

    def dendrite_decl(self, meta, children):
        name, _ = children
        return ir.CompartmentDecl(
            span=self._span(meta), name=self._name(name), dendrite=True
        )

    def compartment_decl(self, meta, children):
        name, *settings = children
        return ir.CompartmentDecl(
            span=self._span(meta),
            name=self._name(name),
            dendrite=False,
            settings=tuple(settings),
        )

    def coupling_decl(self, meta, children):
        source, target, setting = children
        return ir.CouplingDecl(
            span=self._span(meta),
            source=self._name(source),
            target=self._name(target),
            conductance_name=setting.name,
            conductance=setting.value,
        )

    def param_list(self, meta, children):
        return tuple(c for c in children if c is not None)

    def param(self, meta, children):
        name, default = children
        return ir.Param(span=self._span(meta), name=self._name(name), default=default)

    # -- functions and rules --------------------------------------------

    def function_decl(self, meta, children):
        name, params, body = children
        return ir.FunctionDecl(
            span=self._span(meta), name=self._name(name), params=params, body=body
        )

    def rule_decl(self, meta, children):
        name, params, *settings = children
        return ir.RuleDecl(
            span=self._span(meta),
            name=self._name(name),
            params=params or (),
            settings=tuple(settings),
        )

    # -- networks -------------------------------------------------------

    def network_decl(self, meta, children):
        name, *items = children
        groups: dict[str, list] = {key: [] for key in _NETWORK_GROUPS}
        for item in items:
            groups[_NETWORK_GROUP[type(item)]].append(item)
        return ir.NetworkDecl(
            span=self._span(meta),
            name=self._name(name),
            **{k: tuple(v) for k, v in groups.items()},
        )

    def input_decl(self, meta, children):
        name, size = children
        return ir.InputDecl(span=self._span(meta), name=self._name(name), size=size)

    def layer_decl(self, meta, children):
        name, *instances = children
        return ir.LayerDecl(
            span=self._span(meta), name=self._name(name), populations=tuple(instances)
        )

    def instance(self, meta, children):
        name, neuron, args, size = children
        return ir.Instance(
            span=self._span(meta),
            name=self._name(name),
            neuron=self._name(neuron),
            args=args or (),
            size=size,
        )

    def projection_decl(self, meta, children):
        source, target, name, body = children
        body = body or ()
        inits = [b for b in body if isinstance(b, ir.InitDecl)]
        learns = [b for b in body if isinstance(b, ir.LearnDecl)]
        one_to_one = [b for b in body if isinstance(b, Token)]
        return ir.ProjectionDecl(
            span=self._span(meta),
            name=self._name(name),
            source=source,
            target=target,
            one_to_one=bool(one_to_one),
            inits=tuple(inits),
            learns=tuple(learns),
        )

    def projection_body(self, meta, children):
        return tuple(children)

    def init_decl(self, meta, children):
        func, *args = children
        args = [a for a in args if a is not None]
        return ir.InitDecl(
            span=self._span(meta),
            func=self._name(func),
            args=tuple(a for a in args if not isinstance(a, (ir.Keyword, _String))),
            keywords=tuple(a for a in args if isinstance(a, ir.Keyword)),
            strings=tuple(a.value for a in args if isinstance(a, _String)),
        )

    def init_arg(self, meta, children):
        return children[0]

    def string_arg(self, meta, children):
        return _String(_unquote(children[0]))

    def learn_decl(self, meta, children):
        rule, args = children
        return ir.LearnDecl(
            span=self._span(meta), rule=self._name(rule), args=args or ()
        )

    def nudge_decl(self, meta, children):
        target, source, setting, reversal = children
        return ir.NudgeDecl(
            span=self._span(meta),
            target=target,
            source=source,
            conductance_name=setting.name,
            conductance=setting.value,
            form="conductance" if reversal is not None else "current",
            reversal=reversal or (),
        )

    def nudge_source(self, meta, children):
        (child,) = children
        if isinstance(child, Token):
            return None
        return child

    def reversal(self, meta, children):
        return children[0]

    def protocol_decl(self, meta, children):
        return ir.ProtocolDecl(
            span=self._span(meta),
            settings=tuple(c for c in children if isinstance(c, ir.Setting)),
            phases=tuple(c for c in children if isinstance(c, ir.PhaseDecl)),
        )

    def phase_decl(self, meta, children):
        name, *items = children
        learns = [i for i in items if isinstance(i, _Learn)]
        return ir.PhaseDecl(
            span=self._span(meta),
            name=self._name(name),
            settings=tuple(i for i in items if isinstance(i, ir.Setting)),
            learn=tuple(n for group in learns for n in group.names) if learns else None,
        )

    def phase_learn(self, meta, children):
        return _Learn(tuple(self._name(c) for c in children))

    def loihi_decl(self, meta, children):
        return ir.LoihiDecl(
            span=self._span(meta),
            settings=tuple(c for c in children if isinstance(c, ir.Setting)),
            pins=tuple(c for c in children if isinstance(c, ir.PinDecl)),
        )

    def pin_decl(self, meta, children):
        variable, setting = children
        return ir.PinDecl(span=self._span(meta), variable=variable, setting=setting)

    def path(self, meta, children):
        return ir.PathRef(
            span=self._span(meta), parts=tuple(self._name(c) for c in children)
        )

    def setting(self, meta, children):
        name, value = children
        return ir.Setting(span=self._span(meta), name=self._name(name), value=value)

    def keyword_list(self, meta, children):
        return tuple(c for c in children if c is not None)

    def keyword(self, meta, children):
        name, value = children
        return ir.Keyword(span=self._span(meta), name=str(name), value=value)

    # -- expressions ----------------------------------------------------

    def _binary(self, meta, op, children):
        left, right = children
        return ir.Binary(span=self._span(meta), op=op, left=left, right=right)

    def add(self, meta, children):
        return self._binary(meta, "+", children)

    def sub(self, meta, children):
        return self._binary(meta, "-", children)

    def mul(self, meta, children):
        return self._binary(meta, "*", children)

    def div(self, meta, children):
        return self._binary(meta, "/", children)

    def pow(self, meta, children):
        return self._binary(meta, "**", children)

    def neg(self, meta, children):
        return ir.Unary(span=self._span(meta), operand=children[0])

    def unary(self, meta, children):
        return children[0]

    def number(self, meta, children):
        value, unit = children
        return ir.Num(
            span=self._span(meta),
            value=float(value),
            unit=str(unit) if unit is not None else None,
        )

    def ref(self, meta, children):
        return ir.Ref(span=self._span(meta), parts=tuple(str(c) for c in children))

    def call(self, meta, children):
        func, *args = children
        args = [a for a in args if a is not None]
        return ir.Call(
            span=self._span(meta),
            func=str(func),
            args=tuple(a for a in args if not isinstance(a, ir.Keyword)),
            keywords=tuple(a for a in args if isinstance(a, ir.Keyword)),
        )


class _String:
    def __init__(self, value: str):
        self.value = value


class _Learn:
    def __init__(self, names):
        self.names = names


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    return re.sub(r"\\(.)", lambda m: m.group(1), body)


_GROUP = {
    ir.ImportDecl: "imports",
    ir.ConstDecl: "consts",
    ir.NeuronDecl: "neurons",
    ir.FunctionDecl: "functions",
    ir.RuleDecl: "rules",
    ir.NetworkDecl: "networks",
}

_NETWORK_GROUPS = (
    "settings",
    "consts",
    "neurons",
    "functions",
    "rules",
    "inputs",
    "layers",
    "projections",
    "nudges",
    "protocols",
    "loihi",
)

_NETWORK_GROUP = {
    ir.Setting: "settings",
    ir.ConstDecl: "consts",
    ir.NeuronDecl: "neurons",
    ir.FunctionDecl: "functions",
    ir.RuleDecl: "rules",
    ir.InputDecl: "inputs",
    ir.LayerDecl: "layers",
    ir.ProjectionDecl: "projections",
    ir.NudgeDecl: "nudges",
    ir.ProtocolDecl: "protocols",
    ir.LoihiDecl: "loihi",
}
