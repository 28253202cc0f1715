"""Calls in expressions: checked, then inlined into network-level IR.

In the network-level IR every call is a built-in with all its arguments in
order; user functions are inlined and parameters replaced by their values.
Rules checked here:

1. A called function is a built-in or declared with ``function`` (E0603).
2. A call gives each parameter once, names only parameters that exist and
   gives every parameter without a default (E0602).
3. No user function calls itself, directly or through others (E0601).
4. An expression with its functions expanded has at most ``MAX_NODES``
   nodes (E0107) and nests at most ``MAX_EXPANDED_DEPTH`` deep (E0104). A
   function that uses its parameter twice doubles what it is given, so ten
   nested calls of it are already a thousand copies; the limits keep every
   later stage (printing, the simulator, the IR as JSON) bounded. The
   expansion stops as soon as it makes more than ``MAX_NODES`` nodes.
"""

from __future__ import annotations

from collections.abc import Callable

from mcdl import ir
from mcdl.builtins import BUILTINS
from mcdl.diagnostics import Diagnostic, did_you_mean, error
from mcdl.passes.values import TIME_UNITS, Quantity, Values

#: Resolves a reference that is not a parameter or constant; None on error.
RefResolver = Callable[[ir.Ref], "ir.Expr | None"]
#: Applies the post-synaptic transfer function (``phi``) to an expression.
PhiApplier = Callable[[ir.Call, ir.Expr], "ir.Expr | None"]


#: The most nodes of an expression once its function calls are expanded.
MAX_NODES = 10_000
#: The deepest nesting of an expression once its function calls are expanded.
MAX_EXPANDED_DEPTH = 200


class _Failed(Exception):
    pass


class _TooLarge(Exception):
    pass


class Inliner:
    """Turns spec expressions into network-level expressions."""

    def __init__(self, values: Values, diagnostics: list[Diagnostic]) -> None:
        self.values = values
        self.scope = values.scope
        self.diagnostics = diagnostics
        self._made = 0

    def inline(
        self,
        expr: ir.Expr,
        env: dict[str, Quantity],
        resolve: RefResolver,
        phi: PhiApplier | None = None,
    ) -> ir.Expr | None:
        """Return ``expr`` inlined, or None after reporting what is wrong."""
        self._made = 0
        try:
            result = self._inline(expr, env, {}, resolve, phi, ())
        except _Failed:
            return None
        except _TooLarge:
            result = None
        size, depth = measure(result) if result is not None else (MAX_NODES + 1, 0)
        if size > MAX_NODES:
            message = (
                f"with its functions expanded, this expression has more than "
                f"{MAX_NODES:,} parts"
            )
            hint = "a function that uses its parameter twice doubles its argument"
            self._report("E0107", expr.span, message, hint)
            return None
        if depth > MAX_EXPANDED_DEPTH:
            message = (
                f"with its functions expanded, this expression nests deeper than "
                f"{MAX_EXPANDED_DEPTH} levels"
            )
            hint = "shorten the chain of functions calling functions"
            self._report("E0104", expr.span, message, hint)
            return None
        return result

    def _report(self, code, span, message, hint=None) -> None:
        self.diagnostics.append(error(code, span, message, hint))

    def _inline(self, expr, env, subst, resolve, phi, stack):
        def again(e):
            return self._inline(e, env, subst, resolve, phi, stack)

        self._made += 1
        if self._made > MAX_NODES:
            raise _TooLarge

        if isinstance(expr, ir.Num):
            if expr.unit is None:
                return expr
            return ir.Num(span=expr.span, value=expr.value * TIME_UNITS[expr.unit])
        if isinstance(expr, ir.Ref):
            return self._ref(expr, env, subst, resolve)
        if isinstance(expr, ir.Unary):
            return ir.Unary(span=expr.span, operand=again(expr.operand))
        if isinstance(expr, ir.Binary):
            if expr.op in "+-" and self._dim(expr.left, env) != self._dim(
                expr.right, env
            ):
                message = f"'{expr.op}' combines a time with a plain number"
                self._report("E0402", expr.span, message)
                raise _Failed
            return ir.Binary(
                span=expr.span,
                op=expr.op,
                left=again(expr.left),
                right=again(expr.right),
            )
        return self._call(expr, env, subst, resolve, phi, stack)

    def _ref(self, expr, env, subst, resolve):
        name = expr.dotted
        if name in subst:
            return subst[name]
        if name in env:
            return ir.Num(span=expr.span, value=env[name].value)
        if len(expr.parts) == 1 and name in self.scope.consts:
            value = self.values.const(name)
            if value is None:
                raise _Failed
            return ir.Num(span=expr.span, value=value.value)
        resolved = resolve(expr)
        if resolved is None:
            raise _Failed
        return resolved

    def _call(self, expr, env, subst, resolve, phi, stack):
        def again(e):
            return self._inline(e, env, subst, resolve, phi, stack)

        if expr.func == "phi" and phi is not None and "phi" not in self.scope.functions:
            if len(expr.args) != 1 or expr.keywords:
                self._report("E0602", expr.span, "'phi' takes one argument")
                raise _Failed
            result = phi(expr, again(expr.args[0]))
            if result is None:
                raise _Failed
            return result
        builtin = BUILTINS.get(expr.func)
        if builtin is not None:
            bound = self._bind(expr, builtin.params, dict(builtin.defaults))
            for value in bound.values():
                if not isinstance(value, float) and self._dim(value, env) != 0:
                    message = f"'{expr.func}' takes plain numbers, not times"
                    self._report("E0402", value.span, message)
                    raise _Failed
            args = tuple(
                ir.Num(span=expr.span, value=bound[p])
                if isinstance(bound[p], float)
                else again(bound[p])
                for p in builtin.params
            )
            return ir.Call(span=expr.span, func=expr.func, args=args)
        function = self.scope.functions.get(expr.func)
        if function is None:
            known = list(BUILTINS) + list(self.scope.functions)
            message = f"unknown function '{expr.func}'"
            self._report("E0603", expr.span, message, did_you_mean(expr.func, known))
            raise _Failed
        if expr.func in stack:
            chain = " -> ".join(stack + (expr.func,))
            self._report("E0601", expr.span, f"recursive function call: {chain}")
            raise _Failed
        params = tuple(p.name.text for p in function.params)
        defaults = {}
        for param in function.params:
            if param.default is not None:
                value = self.values.quantity(param.default, {})
                if value is None:
                    raise _Failed
                defaults[param.name.text] = value.value
        bound = self._bind(expr, params, defaults)
        inner = {
            p: ir.Num(span=expr.span, value=bound[p])
            if isinstance(bound[p], float)
            else again(bound[p])
            for p in params
        }
        return self._inline(
            function.body, {}, inner, resolve, phi, stack + (expr.func,)
        )

    def _dim(self, expr: ir.Expr, env: dict[str, Quantity]) -> int:
        """The power of time ``expr`` carries: units and timed parameters."""
        if isinstance(expr, ir.Num):
            return 0 if expr.unit is None else 1
        if isinstance(expr, ir.Ref):
            if expr.dotted in env:
                return env[expr.dotted].time
            if len(expr.parts) == 1 and expr.dotted in self.scope.consts:
                value = self.values.const(expr.dotted)
                return value.time if value is not None else 0
            return 0
        if isinstance(expr, ir.Unary):
            return self._dim(expr.operand, env)
        if isinstance(expr, ir.Binary):
            left = self._dim(expr.left, env)
            if expr.op in "+-":
                return left
            right = self._dim(expr.right, env)
            if expr.op == "*":
                return left + right
            if expr.op == "/":
                return left - right
            return 0
        return 0

    def _bind(self, call: ir.Call, params, defaults: dict[str, float]) -> dict:
        if len(call.args) > len(params):
            message = (
                f"'{call.func}' takes {len(params)} arguments, not {len(call.args)}"
            )
            self._report("E0602", call.span, message)
            raise _Failed
        bound: dict[str, object] = dict(zip(params, call.args, strict=False))
        for keyword in call.keywords:
            if keyword.name not in params:
                message = f"'{call.func}' has no parameter '{keyword.name}'"
                hint = did_you_mean(keyword.name, params)
                self._report("E0602", keyword.span, message, hint)
                raise _Failed
            if keyword.name in bound:
                self._report("E0602", keyword.span, f"'{keyword.name}' is given twice")
                raise _Failed
            bound[keyword.name] = keyword.value
        for name in params:
            if name not in bound:
                if name not in defaults:
                    message = f"'{call.func}' needs the argument '{name}'"
                    self._report("E0602", call.span, message)
                    raise _Failed
                bound[name] = float(defaults[name])
        return bound


def measure(expr: ir.Expr) -> tuple[int, int]:
    """The number of nodes and the depth of ``expr`` read as a tree.

    Expanding a function shares one expression among the uses of a
    parameter; each node is visited once, so shared parts cost nothing to
    measure even when, read as a tree, they are copied many times.
    """
    sizes: dict[int, tuple[int, int]] = {}
    stack: list[tuple[ir.Expr, bool]] = [(expr, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not done:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        size = 1 + sum(sizes[id(child)][0] for child in children)
        depth = 1 + max((sizes[id(child)][1] for child in children), default=0)
        sizes[id(node)] = (min(size, 2 * MAX_NODES), depth)
    return sizes[id(expr)]


def _children(node: ir.Expr) -> list[ir.Expr]:
    if isinstance(node, ir.Call):
        return [*node.args, *(k.value for k in node.keywords)]
    if isinstance(node, ir.Binary):
        return [node.left, node.right]
    if isinstance(node, ir.Unary):
        return [node.operand]
    return []


def check_recursion(values: Values, diagnostics: list[Diagnostic]) -> None:
    """Report every user function that calls itself through others (E0601)."""
    functions = values.scope.functions
    calls = {name: _called(f.body) & set(functions) for name, f in functions.items()}
    for name, function in functions.items():
        seen: set[str] = set()
        frontier = list(calls[name])
        while frontier:
            callee = frontier.pop()
            if callee == name:
                message = f"function '{name}' calls itself"
                diagnostics.append(error("E0601", function.name.span, message))
                break
            if callee not in seen:
                seen.add(callee)
                frontier.extend(calls[callee])


def _called(expr: ir.Expr) -> set[str]:
    found: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ir.Call):
            found.add(node.func)
            stack.extend(node.args)
            stack.extend(k.value for k in node.keywords)
        elif isinstance(node, ir.Binary):
            stack.extend((node.left, node.right))
        elif isinstance(node, ir.Unary):
            stack.append(node.operand)
    return found
