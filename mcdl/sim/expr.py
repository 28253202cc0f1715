"""Expressions of the network-level IR, turned into numpy computations.

An expression is compiled once into a tree of closures, one per IR node, each
calling one numpy operation on the values of its children. A reference is
resolved at compile time by a ``bind`` function that the caller supplies: it
returns either a constant or a getter of live state, so the compiled
expression always computes from the caller's current arrays. No text is
generated or evaluated.

Sub-expressions without references are evaluated once, at compile time.
Multiplying or dividing by 1 and subtracting 0 are left out, since neither
changes a floating-point value; everything else is computed as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from mcdl import ir
from mcdl.builtins import BUILTINS

Value = np.ndarray | float
"""What an expression computes: an array, or a float for a constant."""

Getter = Callable[[], Value]
"""A compiled expression: called without arguments, returns its value now."""

Binding = Getter | float
"""What a reference resolves to: a getter of live state, or a constant."""

Binder = Callable[[ir.Ref], Binding]
"""Resolves a reference; raises ``ExprError`` for a name it does not know."""

Intercept = Callable[[ir.Expr], Binding | None]
"""Offers a value for a whole sub-expression (one already computed), or None."""


class ExprError(ValueError):
    """An expression cannot be evaluated: an unknown name or function."""


def _logistic(x: Value) -> Value:
    return 1.0 / (1.0 + np.exp(-x))


def _relu(x: Value) -> Value:
    return np.maximum(x, 0.0)


def _linear(x: Value) -> Value:
    return x


def _soft_relu(x: Value, gamma: Value, beta: Value, theta: Value) -> Value:
    return gamma * np.logaddexp(0.0, beta * (x - theta))


FUNCTIONS: dict[str, Callable[..., Value]] = {
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "abs": np.abs,
    "logistic": _logistic,
    "soft_relu": _soft_relu,
    "relu": _relu,
    "linear": _linear,
    "min": np.minimum,
    "max": np.maximum,
    "clip": np.clip,
}
"""The numpy meaning of every built-in of ``mcdl.builtins``, by name."""

_OPERATORS: dict[str, np.ufunc] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "**": np.power,
}


def compile_expr(
    expr: ir.Expr,
    bind: Binder,
    *,
    intercept: Intercept | None = None,
    out: np.ndarray | None = None,
) -> Binding:
    """Return ``expr`` as a getter of its current value, or as a constant.

    Args:
        expr: a network-level expression; every call is a built-in with all
            its arguments given positionally.
        bind: resolves a reference to a getter of live state or a constant.
        intercept: asked first about every sub-expression; where it returns
            a binding, that binding stands for the whole sub-expression.
        out: an array the getter writes its value into (broadcast to its
            shape) and returns, instead of a new array.

    Raises:
        ExprError: a reference is unknown, or a call is not a built-in with
            exactly its parameters.
    """
    compiled = _compile(expr, bind, intercept, out)
    if out is None or getattr(compiled, "writes_out", False):
        return compiled
    return _written(compiled, out)


def evaluate(expr: ir.Expr, env: Mapping[str, Value]) -> Value:
    """Return the value of ``expr`` with references looked up in ``env``.

    ``env`` maps dotted names (``"soma"``, ``"post.basal.prediction"``) to
    arrays or floats.

    Raises:
        ExprError: a reference is not in ``env``, or a call is not a built-in
            with exactly its parameters.
    """

    def bind(ref: ir.Ref) -> Binding:
        if ref.dotted not in env:
            raise ExprError(f"unknown name {ref.dotted!r} at {ref.span}")
        return lambda: env[ref.dotted]

    compiled = compile_expr(expr, bind)
    return compiled() if callable(compiled) else compiled


def _compile(
    expr: ir.Expr,
    bind: Binder,
    intercept: Intercept | None,
    out: np.ndarray | None = None,
) -> Binding:
    if intercept is not None:
        offered = intercept(expr)
        if offered is not None:
            return offered
    if isinstance(expr, ir.Num):
        return float(expr.value)
    if isinstance(expr, ir.Ref):
        return bind(expr)
    if isinstance(expr, ir.Unary):
        operand = _compile(expr.operand, bind, intercept)
        return _apply(np.negative, [operand], out)
    if isinstance(expr, ir.Binary):
        left = _compile(expr.left, bind, intercept)
        right = _compile(expr.right, bind, intercept)
        return _binary(expr.op, left, right, out)
    if isinstance(expr, ir.Call):
        return _call(expr, bind, intercept, out)
    raise ExprError(f"not an expression: {expr!r}")


def _binary(
    op: str, left: Binding, right: Binding, out: np.ndarray | None = None
) -> Binding:
    if op == "*" and _is_constant(left, 1.0):
        return right
    if op in ("*", "/", "**") and _is_constant(right, 1.0):
        return left
    if op == "-" and _is_constant(right, 0.0):
        return left
    return _apply(_OPERATORS[op], [left, right], out)


def _call(
    call: ir.Call,
    bind: Binder,
    intercept: Intercept | None,
    out: np.ndarray | None,
) -> Binding:
    builtin = BUILTINS.get(call.func)
    if builtin is None:
        raise ExprError(f"{call.func!r} at {call.span} is not a built-in function")
    if call.keywords or len(call.args) != len(builtin.params):
        raise ExprError(
            f"{call.func} at {call.span} needs its {len(builtin.params)} "
            "arguments positionally in the network IR"
        )
    args = [_compile(arg, bind, intercept) for arg in call.args]
    if call.func == "soft_relu":
        return _soft_relu_of(*args, out=out)
    return _apply(FUNCTIONS[call.func], args, out)


def _soft_relu_of(
    x: Binding,
    gamma: Binding,
    beta: Binding,
    theta: Binding,
    out: np.ndarray | None,
) -> Binding:
    """``gamma * logaddexp(0, beta * (x - theta))``, built from its operations.

    Built node by node so that the common parameters (1, 1, 0) cost nothing.
    """
    inner = _binary("*", beta, _binary("-", x, theta))
    if _is_constant(gamma, 1.0):
        return _apply(np.logaddexp, [0.0, inner], out)
    return _binary("*", gamma, _apply(np.logaddexp, [0.0, inner], None), out)


def _apply(
    function: Callable[..., Value], args: list[Binding], out: np.ndarray | None
) -> Binding:
    """Return ``function`` of ``args``: a constant if every argument is one.

    A numpy ufunc of one or two arguments writes into ``out`` when given.
    """
    if not any(callable(arg) for arg in args):
        return function(*args)
    if out is not None and not (isinstance(function, np.ufunc) and len(args) <= 2):
        out = None
    if len(args) == 1:
        compiled = _one(function, args[0], out)
    elif len(args) == 2:
        compiled = _two(function, args[0], args[1], out)
    else:
        compiled = _many(function, args)
    # compile_expr copies into ``out`` what did not write there itself.
    compiled.writes_out = out is not None  # type: ignore[attr-defined]
    return compiled


def _many(function: Callable[..., Value], args: list[Binding]) -> Getter:
    getters = [arg if callable(arg) else _constant(arg) for arg in args]

    def apply() -> Value:
        return function(*(getter() for getter in getters))

    return apply


def _one(function: Callable[..., Value], x: Getter, out: np.ndarray | None) -> Getter:
    if out is None:
        return lambda: function(x())
    return lambda: function(x(), out=out)


def _two(
    function: Callable[..., Value],
    a: Binding,
    b: Binding,
    out: np.ndarray | None,
) -> Getter:
    """``function(a, b)`` with constants passed as they are, not called.

    A constant is passed as a 0-d array: numpy takes that faster than a float.
    """
    if not callable(a):
        a = np.asarray(a, dtype=np.float64)
    if not callable(b):
        b = np.asarray(b, dtype=np.float64)
    if out is None:
        if not callable(a):
            return lambda: function(a, b())
        if not callable(b):
            return lambda: function(a(), b)
        return lambda: function(a(), b())
    if not callable(a):
        return lambda: function(a, b(), out=out)
    if not callable(b):
        return lambda: function(a(), b, out=out)
    return lambda: function(a(), b(), out=out)


def _written(compiled: Binding, out: np.ndarray) -> Getter:
    """Copy ``compiled``'s value into ``out`` (broadcasting) and return ``out``."""
    if not callable(compiled):
        out[...] = compiled
        return lambda: out

    def copy() -> np.ndarray:
        np.copyto(out, compiled())
        return out

    return copy


def _constant(value: Value) -> Getter:
    return lambda: value


def _is_constant(binding: Binding, value: float) -> bool:
    return not callable(binding) and np.ndim(binding) == 0 and binding == value
