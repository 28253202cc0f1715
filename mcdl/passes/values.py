"""Constant values and their units.

Times are written with a unit (``0.1 ms``, ``2 s``) and become plain
milliseconds; every other setting is a plain number. Rules checked here:

1. A setting that is a time has a time unit (E0401).
2. A setting that is not a time has no unit, and arithmetic does not add or
   compare a time with a plain number (E0402).
3. Sizes, conductances, capacitances and time constants are positive
   (E0403); leaks and noise amplitudes are not negative.
4. A setting that must be known when the network is built is a constant
   expression: numbers, constants, parameters and calls of built-ins (E0404);
   a name that is none of these is undefined (E0201).
5. Sizes, seeds, epoch and pattern counts are whole numbers (E0405).
6. Switches are ``on`` or ``off``; choices are one of their words (E0406).
7. Computing one constant value takes at most ``MAX_STEPS`` steps, however
   its functions call each other (E0107).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mcdl import ir
from mcdl.builtins import BUILTINS
from mcdl.diagnostics import Diagnostic, did_you_mean, error
from mcdl.passes.resolve import Scope

TIME_UNITS = {"ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Quantity:
    """A number and the power of time it carries (0: plain, 1: a time)."""

    value: float
    time: int = 0


#: The most nodes evaluated for one constant value, function calls expanded.
MAX_STEPS = 100_000


class _NotConstant(Exception):
    pass


class _TooManySteps(Exception):
    pass


_FUNCTIONS = {
    "exp": math.exp,
    "log": math.log,
    "tanh": math.tanh,
    "abs": abs,
    "logistic": lambda x: 1.0 / (1.0 + math.exp(-x)),
    "soft_relu": lambda x, g, b, t: g * math.log1p(math.exp(b * (x - t))),
    "relu": lambda x: max(x, 0.0),
    "linear": lambda x: x,
    "min": min,
    "max": max,
    "clip": lambda x, lo, hi: min(max(x, lo), hi),
}


class Values:
    """Evaluates constant expressions of one network, collecting diagnostics."""

    def __init__(self, scope: Scope, diagnostics: list[Diagnostic]) -> None:
        self.scope = scope
        self.diagnostics = diagnostics
        self._consts: dict[str, Quantity | None] = {}
        self._evaluating: set[str] = set()
        self._calling: tuple[str, ...] = ()
        self._steps = 0
        self._depth = 0

    # -- public ---------------------------------------------------------

    def quantity(self, expr: ir.Expr, env: dict[str, Quantity]) -> Quantity | None:
        """Evaluate ``expr`` with ``env`` and the constants; None on error."""
        if self._depth == 0:
            self._steps = 0
        self._depth += 1
        try:
            return self._eval(expr, env)
        except _NotConstant:
            return None
        except _TooManySteps:
            if self._depth == 1:
                message = (
                    f"computing this value takes more than {MAX_STEPS:,} steps of "
                    "expanded function calls"
                )
                hint = "a function that uses its parameter twice doubles the work"
                self._report("E0107", expr.span, message, hint)
                return None
            raise
        except (ArithmeticError, ValueError) as exc:
            self._report("E0404", expr.span, f"the value cannot be computed: {exc}")
            return None
        finally:
            self._depth -= 1

    def time(self, expr: ir.Expr, env: dict[str, Quantity], what: str) -> float | None:
        """Evaluate a time setting to milliseconds."""
        value = self.quantity(expr, env)
        if value is None:
            return None
        if value.time == 0:
            message = f"{what} is a time and needs a unit"
            hint = f"write it as '{_show(value.value)} ms' or in seconds with 's'"
            self._report("E0401", expr.span, message, hint)
            return None
        if value.time != 1:
            self._report("E0402", expr.span, f"{what} must be a time")
            return None
        return value.value

    def number(
        self,
        expr: ir.Expr,
        env: dict[str, Quantity],
        what: str,
        *,
        positive: bool = False,
        nonnegative: bool = False,
        whole: bool = False,
    ) -> float | None:
        """Evaluate a plain-number setting, checking its sign and wholeness."""
        value = self.quantity(expr, env)
        if value is None:
            return None
        if value.time != 0:
            self._report("E0402", expr.span, f"{what} is a plain number; drop the unit")
            return None
        return self.checked(value.value, expr.span, what, positive, nonnegative, whole)

    def positive_time(
        self, expr: ir.Expr, env: dict[str, Quantity], what: str, allow_zero=False
    ) -> float | None:
        """Evaluate a time that must be positive (or zero, if allowed)."""
        value = self.time(expr, env, what)
        if value is None:
            return None
        return self.checked(value, expr.span, what, not allow_zero, allow_zero, False)

    def checked(self, value, span, what, positive, nonnegative, whole):
        """Report a value that breaks its sign or wholeness rule; else return it."""
        if not math.isfinite(value):
            self._report("E0404", span, f"{what} is not a finite number")
            return None
        if positive and value <= 0:
            self._report("E0403", span, f"{what} must be positive, not {_show(value)}")
            return None
        if nonnegative and value < 0:
            message = f"{what} must not be negative, not {_show(value)}"
            self._report("E0403", span, message)
            return None
        if whole and value != int(value):
            self._report("E0405", span, f"{what} must be a whole number")
            return None
        return value

    def word(self, expr: ir.Expr, choices: tuple[str, ...], what: str) -> str | None:
        """Read a choice written as a bare word: ``on``, ``random``, ..."""
        if (
            isinstance(expr, ir.Ref)
            and len(expr.parts) == 1
            and expr.parts[0] in choices
        ):
            return expr.parts[0]
        shown = " or ".join(f"'{c}'" for c in choices)
        self._report("E0406", expr.span, f"{what} must be {shown}")
        return None

    def switch(self, expr: ir.Expr, what: str) -> bool | None:
        """Read ``on`` / ``off``."""
        word = self.word(expr, ("on", "off"), what)
        return None if word is None else word == "on"

    def const(self, name: str) -> Quantity | None:
        """The value of the constant ``name`` (computed once)."""
        if name in self._consts:
            return self._consts[name]
        decl = self.scope.consts[name]
        if name in self._evaluating:
            self._report(
                "E0404", decl.name.span, f"constant '{name}' depends on itself"
            )
            raise _NotConstant
        self._evaluating.add(name)
        try:
            value = self.quantity(decl.value, {})
        finally:
            self._evaluating.discard(name)
        self._consts[name] = value
        return value

    # -- evaluation -----------------------------------------------------

    def _report(self, code, span, message, hint=None) -> None:
        self.diagnostics.append(error(code, span, message, hint))

    def _eval(self, expr: ir.Expr, env: dict[str, Quantity]) -> Quantity:
        self._steps += 1
        if self._steps > MAX_STEPS:
            raise _TooManySteps
        if isinstance(expr, ir.Num):
            if expr.unit is None:
                return Quantity(expr.value)
            return Quantity(expr.value * TIME_UNITS[expr.unit], 1)
        if isinstance(expr, ir.Ref):
            return self._ref(expr, env)
        if isinstance(expr, ir.Unary):
            operand = self._eval(expr.operand, env)
            return Quantity(-operand.value, operand.time)
        if isinstance(expr, ir.Binary):
            return self._binary(expr, env)
        return self._call(expr, env)

    def _ref(self, expr: ir.Ref, env: dict[str, Quantity]) -> Quantity:
        name = expr.dotted
        if name in env:
            return env[name]
        if len(expr.parts) == 1 and name in self.scope.consts:
            value = self.const(name)
            if value is None:
                raise _NotConstant
            return value
        if len(expr.parts) == 1 and name not in _known_dynamic(self.scope):
            message = f"undefined name '{name}'"
            hint = did_you_mean(name, list(env) + list(self.scope.consts))
            self._report("E0201", expr.span, message, hint)
            raise _NotConstant
        message = f"'{name}' is not a constant; this value must be known when building"
        self._report("E0404", expr.span, message)
        raise _NotConstant

    def _binary(self, expr: ir.Binary, env: dict[str, Quantity]) -> Quantity:
        left = self._eval(expr.left, env)
        right = self._eval(expr.right, env)
        if expr.op in "+-":
            if left.time != right.time:
                message = f"'{expr.op}' combines a time with a plain number"
                self._report("E0402", expr.span, message)
                raise _NotConstant
            value = (
                left.value + right.value if expr.op == "+" else left.value - right.value
            )
            return Quantity(value, left.time)
        if expr.op == "*":
            return Quantity(left.value * right.value, left.time + right.time)
        if expr.op == "/":
            if right.value == 0:
                self._report("E0404", expr.span, "division by zero")
                raise _NotConstant
            return Quantity(left.value / right.value, left.time - right.time)
        if right.time != 0 or (left.time != 0 and right.value != int(right.value)):
            self._report("E0402", expr.span, "a power must be a plain number")
            raise _NotConstant
        if left.value < 0 and right.value != int(right.value):
            message = "a negative number to a fractional power is not a real number"
            self._report("E0404", expr.span, message)
            raise _NotConstant
        if left.value == 0 and right.value < 0:
            self._report("E0404", expr.span, "zero to a negative power")
            raise _NotConstant
        return Quantity(left.value**right.value, left.time * int(right.value))

    def _call(self, expr: ir.Call, env: dict[str, Quantity]) -> Quantity:
        builtin = BUILTINS.get(expr.func)
        if builtin is None:
            function = self.scope.functions.get(expr.func)
            if function is None:
                message = f"unknown function '{expr.func}'"
                hint = did_you_mean(
                    expr.func, list(BUILTINS) + list(self.scope.functions)
                )
                self._report("E0603", expr.span, message, hint)
                raise _NotConstant
            if expr.func in self._calling:
                chain = " -> ".join((*self._calling, expr.func))
                self._report("E0601", expr.span, f"recursive function call: {chain}")
                raise _NotConstant
            defaults = {}
            for param in function.params:
                if param.default is not None:
                    defaults[param.name.text] = self._eval(param.default, {})
            params = [p.name.text for p in function.params]
            bound = _bind(expr, params, {}, self, optional=set(defaults))
            values = {
                name: self._eval(arg, env) if name in bound else defaults[name]
                for name, arg in ((p, bound.get(p)) for p in params)
            }
            self._calling = (*self._calling, expr.func)
            try:
                return self._eval(function.body, values)
            finally:
                self._calling = self._calling[:-1]
        defaults = dict(builtin.defaults)
        bound = _bind(expr, list(builtin.params), defaults, self)
        args = []
        for name in builtin.params:
            value = bound[name]
            quantity = value if isinstance(value, Quantity) else self._eval(value, env)
            if quantity.time != 0:
                message = f"'{expr.func}' takes plain numbers, not times"
                self._report("E0402", expr.span, message)
                raise _NotConstant
            args.append(quantity.value)
        return Quantity(float(_FUNCTIONS[expr.func](*args)))


def _bind(
    call: ir.Call,
    params: list[str],
    defaults: dict[str, float],
    values,
    optional: set[str] = frozenset(),
):
    """Match a call's arguments to ``params``; report E0602 on a mismatch.

    Parameters in ``defaults`` get their default as a ``Quantity``; those in
    ``optional`` are left out of the result when not given.
    """
    bound: dict[str, object] = {}
    if len(call.args) > len(params):
        message = f"'{call.func}' takes {len(params)} arguments, not {len(call.args)}"
        values._report("E0602", call.span, message)
        raise _NotConstant
    for name, arg in zip(params, call.args, strict=False):
        bound[name] = arg
    for keyword in call.keywords:
        if keyword.name not in params:
            message = f"'{call.func}' has no parameter '{keyword.name}'"
            hint = did_you_mean(keyword.name, params)
            values._report("E0602", keyword.span, message, hint)
            raise _NotConstant
        if keyword.name in bound:
            message = f"'{keyword.name}' is given twice"
            values._report("E0602", keyword.span, message)
            raise _NotConstant
        bound[keyword.name] = keyword.value
    for name in params:
        if name not in bound:
            if name in defaults:
                bound[name] = Quantity(defaults[name])
            elif name in optional:
                continue
            else:
                message = f"'{call.func}' needs the argument '{name}'"
                values._report("E0602", call.span, message)
                raise _NotConstant
    return bound


def _known_dynamic(scope: Scope) -> set[str]:
    return {"pre", "post", "w"}


def _show(value: float) -> str:
    return f"{value:g}"
