"""The built-in functions of the expression language.

Each entry gives the parameters in order and the defaults of the optional
ones. In the network-level IR every call of a built-in has all its arguments,
positionally, in this order. The meaning of each, which the reference
simulator and the generated code both implement:

* ``exp(x)``, ``log(x)``, ``tanh(x)``, ``abs(x)``: elementwise.
* ``logistic(x) = 1 / (1 + exp(-x))``.
* ``soft_relu(x, gamma, beta, theta) = gamma * log(1 + exp(beta * (x - theta)))``,
  computed as ``gamma * logaddexp(0, beta * (x - theta))``.
* ``relu(x) = max(x, 0)``; ``linear(x) = x``.
* ``min(a, b)``, ``max(a, b)``: elementwise; ``clip(x, low, high)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Builtin:
    """A built-in function: its parameter names and optional defaults."""

    name: str
    params: tuple[str, ...]
    defaults: tuple[tuple[str, float], ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        optional = {name for name, _ in self.defaults}
        return tuple(p for p in self.params if p not in optional)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("exp", ("x",)),
        Builtin("log", ("x",)),
        Builtin("tanh", ("x",)),
        Builtin("abs", ("x",)),
        Builtin("logistic", ("x",)),
        Builtin(
            "soft_relu",
            ("x", "gamma", "beta", "theta"),
            (("gamma", 1.0), ("beta", 1.0), ("theta", 0.0)),
        ),
        Builtin("relu", ("x",)),
        Builtin("linear", ("x",)),
        Builtin("min", ("a", "b")),
        Builtin("max", ("a", "b")),
        Builtin("clip", ("x", "low", "high")),
    )
}
