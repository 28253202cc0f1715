"""Printing network-level IR expressions as Python/numpy source.

The printer turns an ``ir.Expr`` into the text of an equivalent numpy
expression. It reads IR nodes only and never copies text the user wrote: a
reference is looked up in a mapping that the caller supplies (``"post.soma"``
to ``"u_hidden_pyr_soma"``), a number is printed with ``repr(float)`` so that
it reads back bit for bit, and every built-in of ``mcdl.builtins`` has one
fixed numpy spelling, the function ``mcdl.sim`` calls (``x ** y`` is
``np.power``, since numpy's ``**`` swaps some exponents for other functions).

Parentheses keep the tree's grouping, so sums are added in the order the IR
gives. Constant sub-expressions are folded by numpy, and a few identities
that IEEE arithmetic keeps exact are applied (``1 * x``, ``x - 0``,
``0 - x``, ``c * -x``; see ``_op``).

For the rule of an all-to-all projection, the caller says which names are
post-synaptic vectors, pre-synaptic vectors or the weight matrix; the printer
computes on the vectors as long as it can and broadcasts where they meet,
post values as columns (``[:, None]``) and pre values as rows (``[None, :]``),
so the product of the two is an outer product.

``assign`` prints ``name = expr`` within a line width, computing the widest
sub-expressions first into temporaries (``t1``, ``t2``...) while the line is
too long, and ``assign_into`` writes the result into an existing array with
``out=``; neither output needs reformatting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from mcdl import ir
from mcdl.builtins import BUILTINS
from mcdl.source import Span


class PrintError(ValueError):
    """An expression cannot be printed: an unknown name or function."""


Binding = str | ir.Expr
"""What a reference maps to: code text, or an expression to print in its place."""


# -- A small tree of Python expressions ---------------------------------------
#
# IR expressions are first lowered into these nodes: built-ins expanded, names
# bound, constants folded. Printing and line fitting work on this tree.

_ATOM = 100
_UNARY = 70
_PRODUCT = 60
_SUM = 50
_NONE = 0

_PRECEDENCE = {"*": _PRODUCT, "/": _PRODUCT, "@": _PRODUCT}
_PRECEDENCE.update({"+": _SUM, "-": _SUM})

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ATOMIC_CODE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*(\[[^\[\]]*\])*")


@dataclass(frozen=True)
class _Num:
    value: float


@dataclass(frozen=True)
class _Code:
    """Generated code; ``axis`` says how it broadcasts in an outer product."""

    text: str
    axis: str = ""


@dataclass(frozen=True)
class _Broadcast:
    """A vector turned into a column (``[:, None]``) or a row (``[None, :]``)."""

    operand: _Node
    index: str


@dataclass(frozen=True)
class _Temp:
    """A temporary that ``assign`` introduces; ``slot[0]`` holds its name."""

    slot: list[str]


@dataclass(frozen=True)
class _Neg:
    operand: _Node


@dataclass(frozen=True)
class _Op:
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Call:
    func: str
    args: tuple[_Node, ...]


_Node = _Num | _Code | _Temp | _Neg | _Op | _Call | _Broadcast

_NUMPY_OPS: dict[str, Callable[[float, float], float]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "**": np.power,
}


def _num(value: float) -> _Node:
    return _Num(float(value))


def _op(op: str, left: _Node, right: _Node) -> _Node:
    """Return ``left op right``, folded where that cannot change a value.

    Besides constants, ``1 * x``, ``x * 1``, ``x / 1`` and ``x - 0`` become
    ``x``, ``0 - x`` becomes ``-x``, ``c * -x`` becomes ``-c * x`` and
    ``x - -c`` becomes ``x + c``: IEEE arithmetic gives the same numbers (a
    zero's sign aside), in fewer operations or more plainly.
    """
    if op == "*" and left == _Num(1.0):
        return right
    if op in ("*", "/", "**") and right == _Num(1.0):
        return left
    if op == "-" and right == _Num(0.0):
        return left
    if isinstance(left, _Num) and isinstance(right, _Num) and op in _NUMPY_OPS:
        with np.errstate(all="ignore"):
            return _num(_NUMPY_OPS[op](left.value, right.value))
    if op == "**":
        # numpy's ``**`` turns some exponents into np.square, np.sqrt...,
        # which round differently from the np.power that the reference calls.
        return _call("np.power", left, right)
    if op == "-" and left == _Num(0.0):
        return _neg(right)
    if op in ("+", "-") and isinstance(right, _Num) and _number(right.value)[0] == "-":
        return _Op("-" if op == "+" else "+", left, _num(-right.value))
    if op == "*" and isinstance(left, _Num) and isinstance(right, _Neg):
        return _op("*", _neg(left), right.operand)
    return _Op(op, left, right)


def _neg(operand: _Node) -> _Node:
    if isinstance(operand, _Num):
        return _num(np.negative(operand.value))
    if isinstance(operand, _Neg):
        return operand.operand
    if (
        isinstance(operand, _Op)
        and operand.op == "*"
        and isinstance(operand.left, _Num)
    ):
        return _op("*", _neg(operand.left), operand.right)
    return _Neg(operand)


def _call(func: str, *args: _Node) -> _Node:
    """Return the numpy function ``func`` (``"np.exp"``) of ``args``."""
    if func in _FOLDABLE and all(isinstance(arg, _Num) for arg in args):
        with np.errstate(all="ignore"):
            return _num(_FOLDABLE[func](*(arg.value for arg in args)))
    return _Call(func, args)


_FOLDABLE: dict[str, Callable[..., float]] = {
    "np.exp": np.exp,
    "np.log": np.log,
    "np.tanh": np.tanh,
    "np.abs": np.abs,
    "np.logaddexp": np.logaddexp,
    "np.maximum": np.maximum,
    "np.minimum": np.minimum,
    "np.clip": np.clip,
    "np.power": np.power,
}


def _builtin(name: str, args: list[_Node]) -> _Node:
    """Expand a call of built-in ``name``; see ``mcdl.builtins`` for each meaning."""
    if name in ("exp", "log", "tanh", "abs"):
        return _call(f"np.{name}", *args)
    if name == "logistic":
        (x,) = args
        return _op("/", _num(1.0), _op("+", _num(1.0), _call("np.exp", _neg(x))))
    if name == "soft_relu":
        x, gamma, beta, theta = args
        inner = _op("*", beta, _op("-", x, theta))
        return _op("*", gamma, _call("np.logaddexp", _num(0.0), inner))
    if name == "relu":
        (x,) = args
        return _call("np.maximum", x, _num(0.0))
    if name == "linear":
        (x,) = args
        return x
    if name in ("min", "max"):
        return _call(f"np.{name}imum", *args)
    if name == "clip":
        return _call("np.clip", *args)
    raise PrintError(f"no numpy spelling for the built-in {name!r}")


def _lower(
    expr: ir.Expr,
    refs: Mapping[str, Binding],
    seen: tuple[str, ...],
    axes: Mapping[str, str] | None = None,
) -> _Node:
    if isinstance(expr, ir.Num):
        return _num(expr.value)
    if isinstance(expr, ir.Ref):
        return _bind(expr, refs, seen, axes)
    if isinstance(expr, ir.Unary):
        return _neg(_lower(expr.operand, refs, seen, axes))
    if isinstance(expr, ir.Binary):
        left = _lower(expr.left, refs, seen, axes)
        return _op(expr.op, left, _lower(expr.right, refs, seen, axes))
    if isinstance(expr, ir.Call):
        builtin = BUILTINS.get(expr.func)
        if builtin is None:
            raise PrintError(f"{expr.func!r} at {expr.span} is not a built-in function")
        if expr.keywords or len(expr.args) != len(builtin.params):
            raise PrintError(
                f"{expr.func} at {expr.span} needs its {len(builtin.params)} "
                "arguments positionally in the network IR"
            )
        args = [_lower(arg, refs, seen, axes) for arg in expr.args]
        return _builtin(expr.func, args)
    raise PrintError(f"not an expression: {expr!r}")


def _bind(
    ref: ir.Ref,
    refs: Mapping[str, Binding],
    seen: tuple[str, ...],
    axes: Mapping[str, str] | None,
) -> _Node:
    name = ref.dotted
    if name not in refs:
        known = ", ".join(sorted(refs)) or "none"
        raise PrintError(f"unknown name {name!r} at {ref.span} (known: {known})")
    if name in seen:
        raise PrintError(f"the name {name!r} is defined in terms of itself")
    binding = refs[name]
    if isinstance(binding, str):
        return _Code(binding, (axes or {}).get(name, ""))
    return _lower(binding, refs, (*seen, name), axes)


_COLUMN, _ROW = "[:, None]", "[None, :]"


def _outer(node: _Node) -> _Node:
    """Broadcast an all-to-all rule: post values as columns, pre values as rows.

    The names a rule reads are vectors: ``post`` ones of the target's size,
    ``pre`` ones of the source's, ``both`` the weight matrix. Where values of
    two kinds meet, the vectors become columns (post) and rows (pre), so the
    product is an outer product; everything before that meeting is computed
    on the vectors. The result has the shape of the weights (or broadcasts
    to it).
    """
    node, kind = _kinds(node)
    if kind == "post":
        return _Broadcast(node, _COLUMN)
    if kind == "pre":
        return _Broadcast(node, _ROW)
    return node


def _kinds(node: _Node) -> tuple[_Node, str]:
    if isinstance(node, _Code):
        return node, node.axis
    if isinstance(node, _Num | _Temp | _Broadcast):
        return node, ""
    if isinstance(node, _Neg):
        operand, kind = _kinds(node.operand)
        return _Neg(operand), kind
    children = [node.left, node.right] if isinstance(node, _Op) else list(node.args)
    typed = [_kinds(child) for child in children]
    kinds = {kind for _, kind in typed} - {""}
    if "both" in kinds or {"post", "pre"} <= kinds:
        index = {"post": _COLUMN, "pre": _ROW}
        children = [
            _Broadcast(child, index[kind]) if kind in index else child
            for child, kind in typed
        ]
        kind = "both"
    else:
        children = [child for child, _ in typed]
        kind = kinds.pop() if kinds else ""
    if isinstance(node, _Op):
        return _Op(node.op, children[0], children[1]), kind
    return _Call(node.func, tuple(children)), kind


# -- Printing -----------------------------------------------------------------


def _precedence(node: _Node) -> int:
    if isinstance(node, _Num):
        return _UNARY if _number(node.value).startswith("-") else _ATOM
    if isinstance(node, _Code):
        return _ATOM if _ATOMIC_CODE.fullmatch(node.text) else _NONE
    if isinstance(node, _Neg):
        return _UNARY
    if isinstance(node, _Op):
        return _PRECEDENCE[node.op]
    return _ATOM


def is_atomic(code: str) -> bool:
    """Whether ``code`` is a name, an attribute or a subscript of one."""
    return _ATOMIC_CODE.fullmatch(code) is not None


def _number(value: float) -> str:
    if np.isnan(value):
        return "np.nan"
    if np.isinf(value):
        return "np.inf" if value > 0 else "-np.inf"
    # ruff writes exponents without a plus sign: 1e20, not 1e+20.
    return repr(float(value)).replace("e+", "e")


def _text(node: _Node) -> str:
    """Return ``node`` as Python source, with only the parentheses it needs."""
    if isinstance(node, _Num):
        return _number(node.value)
    if isinstance(node, _Code):
        return node.text
    if isinstance(node, _Temp):
        return node.slot[0]
    if isinstance(node, _Broadcast):
        bare = (
            isinstance(node.operand, _Temp | _Call)
            or _precedence(node.operand) == _ATOM
        )
        return f"{_wrap(node.operand, not bare)}{node.index}"
    if isinstance(node, _Neg):
        operand = _wrap(node.operand, _precedence(node.operand) <= _UNARY)
        return f"-{operand}"
    if isinstance(node, _Call):
        return f"{node.func}({', '.join(_text(arg) for arg in node.args)})"
    left, right = _operands(node)
    return f"{left} {node.op} {right}"


def _operands(node: _Op) -> tuple[str, str]:
    """The texts of an operation's operands, parenthesised where needed.

    Every operator printed is left-associative: a right operand of the same
    precedence keeps its parentheses, so that ``a - (b - c)`` and
    ``a + (b + c)`` are computed as the tree says.
    """
    own = _PRECEDENCE[node.op]
    left = _wrap(node.left, _precedence(node.left) < own)
    return left, _wrap(node.right, _precedence(node.right) <= own)


def _wrap(node: _Node, parenthesise: bool) -> str:
    return f"({_text(node)})" if parenthesise else _text(node)


def to_python(expr: ir.Expr, refs: Mapping[str, Binding]) -> str:
    """Return ``expr`` as a numpy expression.

    Args:
        expr: a network-level expression: every call is a built-in with all
            its arguments positionally.
        refs: what each dotted name means: code text (an atom such as a
            variable or a subscript, or any expression, which is then
            parenthesised where needed) or an expression printed in its place.

    Raises:
        PrintError: a name is not in ``refs``, or a call is not a built-in
            with exactly its parameters.
    """
    return _text(_lower(expr, refs, ()))


def is_constant(expr: ir.Expr, refs: Mapping[str, Binding]) -> bool:
    """Whether ``expr`` folds to a number (it reads no name that is code)."""
    return isinstance(_lower(expr, refs, ()), _Num)


def assign(
    name: str,
    expr: ir.Expr,
    refs: Mapping[str, Binding],
    *,
    width: int,
    operator: str = "=",
    axes: Mapping[str, str] | None = None,
) -> list[str]:
    """Return the lines of ``name = expr`` (or ``+=``), at most ``width`` wide.

    While the statement is too long, its widest sub-expression is computed
    first into a temporary (``t1``, ``t2``, ...), so the lines compute exactly
    what the single expression would. What still does not fit (long names)
    is wrapped the way ``ruff format`` wraps it.

    Args:
        name: the variable assigned.
        expr: the expression (see ``to_python``).
        refs: the meaning of each dotted name (see ``to_python``).
        width: the columns available, after any indentation.
        operator: ``"="`` or an augmented assignment such as ``"+="``.
        axes: for the rule of an all-to-all projection, which names are
            ``"post"`` vectors, ``"pre"`` vectors or ``"both"`` (the weights);
            see ``_outer``.

    Raises:
        PrintError: as ``to_python``.
    """
    if not _IDENTIFIER.fullmatch(name):
        raise PrintError(f"{name!r} is not a Python identifier")
    fitter = _Fitter(width)
    fitter.emit(name, operator, _lowered(expr, refs, axes))
    return fitter.result()


def _lowered(
    expr: ir.Expr, refs: Mapping[str, Binding], axes: Mapping[str, str] | None
) -> _Node:
    node = _lower(expr, refs, (), axes)
    return _outer(node) if axes else node


_UFUNCS = {"+": "np.add", "-": "np.subtract", "*": "np.multiply", "/": "np.divide"}
_WITH_OUT = {
    "np.exp",
    "np.log",
    "np.tanh",
    "np.abs",
    "np.logaddexp",
    "np.maximum",
    "np.minimum",
    "np.clip",
    "np.power",
}
"""The functions printed for built-ins that take ``out=``."""


def assign_into(
    target: str,
    expr: ir.Expr,
    refs: Mapping[str, Binding],
    *,
    width: int,
    axes: Mapping[str, str] | None = None,
) -> list[str]:
    """Return the lines that write ``expr`` into the existing array ``target``.

    The last operation gets ``out=target`` (``np.multiply(a, b, out=dw)``), so
    the result needs no array of its own; the operands broadcast to the
    target's shape. Otherwise, and for ``axes``, as ``assign``.

    Raises:
        PrintError: as ``to_python``.
    """
    if not _IDENTIFIER.fullmatch(target):
        raise PrintError(f"{target!r} is not a Python identifier")
    node = _lowered(expr, refs, axes)
    out = _Code(f"out={target}")
    fitter = _Fitter(width)
    if isinstance(node, _Op) and node.op in _UFUNCS:
        fitter.emit("", "", _Call(_UFUNCS[node.op], (node.left, node.right, out)))
    elif isinstance(node, _Neg):
        fitter.emit("", "", _Call("np.negative", (node.operand, out)))
    elif isinstance(node, _Call) and node.func in _WITH_OUT:
        fitter.emit("", "", _Call(node.func, (*node.args, out)))
    else:
        fitter.emit(f"{target}[...]", "=", node)
    return fitter.result()


class _Fitter:
    """Splits a statement into temporaries until every line fits.

    Temporaries are numbered in the order their lines appear; while fitting,
    each has a placeholder name at least as long as its final one.
    """

    _PLACEHOLDER = "t00"

    def __init__(self, width: int) -> None:
        self.width = width
        self.lines: list[tuple[str | _Temp, str, _Node]] = []

    def emit(self, target: str | _Temp, operator: str, node: _Node) -> None:
        label = target if isinstance(target, str) else target.slot[0]
        while not self._fits(label, operator, node):
            hoisted = self._hoist(node)
            if hoisted is None:
                break
            node = hoisted
        self.lines.append((target, operator, node))

    def _fits(self, label: str, operator: str, node: _Node) -> bool:
        return len(_head(label, operator) + _text(node)) <= self.width

    def _hoist(self, node: _Node) -> _Node | None:
        """Compute one sub-expression of ``node`` first; None if none can be.

        The widest sub-expression that fits a line of its own is taken; if
        none does, the widest operand, split in turn.
        """
        inner = [n for n in _descendants(node) if isinstance(n, _Neg | _Op | _Call)]
        fitting = [n for n in inner if self._fits(self._PLACEHOLDER, "=", n)]
        if fitting:
            chosen = max(fitting, key=lambda n: len(_text(n)))
        else:
            operands = [_unbroadcast(n) for n in _children(node)]
            operands = [n for n in operands if n in inner]
            if not operands:
                return None
            chosen = max(operands, key=lambda n: len(_text(n)))
        temporary = _Temp([self._PLACEHOLDER])
        self.emit(temporary, "=", chosen)
        return _replace(node, chosen, temporary)

    def result(self) -> list[str]:
        count = 0
        for target, _, _ in self.lines:
            if isinstance(target, _Temp):
                count += 1
                target.slot[0] = f"t{count}"
        lines = []
        for target, operator, node in self.lines:
            label = target if isinstance(target, str) else target.slot[0]
            lines.extend(_wrapped(_head(label, operator), node, self.width))
        return lines


def _unbroadcast(node: _Node) -> _Node:
    """The vector that a broadcast turns into a column or a row."""
    return node.operand if isinstance(node, _Broadcast) else node


def _head(label: str, operator: str) -> str:
    """``name = `` before an expression; nothing for an expression statement."""
    return f"{label} {operator} " if label else ""


def _wrapped(head: str, node: _Node, width: int) -> list[str]:
    """``head`` and ``node`` on one line, or wrapped as ``ruff format`` would."""
    text = _text(node)
    if len(head + text) <= width:
        return [head + text]
    if isinstance(node, _Call):
        args = [_text(arg) for arg in node.args]
        if 4 + len(", ".join(args)) <= width:
            return [f"{head}{node.func}(", f"    {', '.join(args)}", ")"]
        return [f"{head}{node.func}(", *(f"    {arg}," for arg in args), ")"]
    if 4 + len(text) <= width or not isinstance(node, _Op):
        return [f"{head}(", f"    {text}", ")"]
    left, right = _operands(node)
    return [f"{head}(", f"    {left}", f"    {node.op} {right}", ")"]


def _children(node: _Node) -> tuple[_Node, ...]:
    if isinstance(node, _Neg | _Broadcast):
        return (node.operand,)
    if isinstance(node, _Op):
        return (node.left, node.right)
    if isinstance(node, _Call):
        return node.args
    return ()


def _descendants(node: _Node) -> list[_Node]:
    """Every node below ``node``, outermost first."""
    found = []
    for child in _children(node):
        found.append(child)
        found.extend(_descendants(child))
    return found


def _replace(node: _Node, old: _Node, new: _Node) -> _Node:
    """Return ``node`` with the sub-tree ``old`` (found by identity) replaced."""
    if node is old:
        return new
    if isinstance(node, _Neg):
        return _Neg(_replace(node.operand, old, new))
    if isinstance(node, _Broadcast):
        return _Broadcast(_replace(node.operand, old, new), node.index)
    if isinstance(node, _Op):
        return _Op(
            node.op, _replace(node.left, old, new), _replace(node.right, old, new)
        )
    if isinstance(node, _Call):
        return _Call(node.func, tuple(_replace(arg, old, new) for arg in node.args))
    return node


# -- Building expressions -----------------------------------------------------


def equal(a: ir.Expr, b: ir.Expr) -> bool:
    """Whether two expressions are the same tree, whatever their spans."""
    return _key(a) == _key(b)


def _key(expr: ir.Expr) -> tuple:
    if isinstance(expr, ir.Num):
        return ("num", expr.value)
    if isinstance(expr, ir.Ref):
        return ("ref", expr.parts)
    if isinstance(expr, ir.Unary):
        return ("neg", _key(expr.operand))
    if isinstance(expr, ir.Binary):
        return (expr.op, _key(expr.left), _key(expr.right))
    keywords = tuple((k.name, _key(k.value)) for k in expr.keywords)
    return ("call", expr.func, tuple(_key(a) for a in expr.args), keywords)


def rename(
    expr: ir.Expr, names: Callable[[tuple[str, ...]], tuple[str, ...]]
) -> ir.Expr:
    """Return ``expr`` with every reference's parts replaced by ``names(parts)``."""
    if isinstance(expr, ir.Ref):
        return expr.model_copy(update={"parts": names(expr.parts)})
    if isinstance(expr, ir.Unary):
        return expr.model_copy(update={"operand": rename(expr.operand, names)})
    if isinstance(expr, ir.Binary):
        left = rename(expr.left, names)
        return expr.model_copy(
            update={"left": left, "right": rename(expr.right, names)}
        )
    if isinstance(expr, ir.Call):
        args = tuple(rename(arg, names) for arg in expr.args)
        return expr.model_copy(update={"args": args})
    return expr


def substitute(expr: ir.Expr, pattern: ir.Expr, replacement: ir.Expr) -> ir.Expr:
    """Return ``expr`` with every sub-tree equal to ``pattern`` replaced."""
    if equal(expr, pattern):
        return replacement
    if isinstance(expr, ir.Unary):
        operand = substitute(expr.operand, pattern, replacement)
        return expr.model_copy(update={"operand": operand})
    if isinstance(expr, ir.Binary):
        left = substitute(expr.left, pattern, replacement)
        right = substitute(expr.right, pattern, replacement)
        return expr.model_copy(update={"left": left, "right": right})
    if isinstance(expr, ir.Call):
        args = tuple(substitute(arg, pattern, replacement) for arg in expr.args)
        return expr.model_copy(update={"args": args})
    return expr


# -- Expressions written by the code generator --------------------------------

_GENERATED = Span(path="<mcdl.codegen>", line=1, column=1, end_line=1, end_column=1)


class Py:
    """A numpy expression the code generator writes itself, as an IR tree.

    ``Py("u_soma")`` is a piece of generated code (a variable, a subscript or
    ``W @ r``), ``Py(0.1)`` a number; ``+ - * /`` and unary ``-`` build the
    tree, which ``statement`` prints like any IR expression. Code pieces are
    text that mcdl generated, never text from a spec.
    """

    def __init__(self, value: str | float | ir.Expr) -> None:
        if isinstance(value, str):
            self.expr: ir.Expr = ir.Ref(span=_GENERATED, parts=(value,))
        elif isinstance(value, int | float):
            self.expr = ir.Num(span=_GENERATED, value=float(value))
        else:
            self.expr = value

    def _binary(self, op: str, other: Py | float, reflected: bool = False) -> Py:
        other_expr = (other if isinstance(other, Py) else Py(other)).expr
        left, right = (other_expr, self.expr) if reflected else (self.expr, other_expr)
        return Py(ir.Binary(span=_GENERATED, op=op, left=left, right=right))

    def __add__(self, other: Py | float) -> Py:
        return self._binary("+", other)

    def __radd__(self, other: float) -> Py:
        return self._binary("+", other, reflected=True)

    def __sub__(self, other: Py | float) -> Py:
        return self._binary("-", other)

    def __rsub__(self, other: float) -> Py:
        return self._binary("-", other, reflected=True)

    def __mul__(self, other: Py | float) -> Py:
        return self._binary("*", other)

    def __rmul__(self, other: float) -> Py:
        return self._binary("*", other, reflected=True)

    def __truediv__(self, other: Py | float) -> Py:
        return self._binary("/", other)

    def __rtruediv__(self, other: float) -> Py:
        return self._binary("/", other, reflected=True)

    def __neg__(self) -> Py:
        return Py(ir.Unary(span=_GENERATED, operand=self.expr))


class _Verbatim(Mapping[str, Binding]):
    """Maps every name to itself: the references of a ``Py`` tree are code."""

    def __getitem__(self, name: str) -> str:
        return name

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


def statement(name: str, value: Py, *, width: int, operator: str = "=") -> list[str]:
    """Return the lines of ``name = value`` for generated code (see ``assign``)."""
    return assign(name, value.expr, _Verbatim(), width=width, operator=operator)


def statement_into(name: str, value: Py, *, width: int) -> list[str]:
    """Return the lines that write generated code ``value`` into array ``name``."""
    return assign_into(name, value.expr, _Verbatim(), width=width)


def text(value: Py) -> str:
    """Return generated code ``value`` as one expression."""
    return to_python(value.expr, _Verbatim())
