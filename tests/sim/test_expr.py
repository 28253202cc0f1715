"""Expressions are evaluated on numpy arrays as the built-ins define them."""

from __future__ import annotations

import numpy as np
import pytest

from mcdl.sim import ExprError, compile_expr, evaluate

from .networks import binary, call, num, ref


def test_soft_relu_is_gamma_log_one_plus_exp():
    u = np.linspace(-5.0, 5.0, 11)
    expr = call("soft_relu", ref("soma"), num(0.5), num(2.0), num(1.0))

    value = evaluate(expr, {"soma": u})

    np.testing.assert_allclose(value, 0.5 * np.log1p(np.exp(2.0 * (u - 1.0))))


def test_soft_relu_does_not_overflow_for_large_potentials():
    expr = call("soft_relu", ref("soma"), num(1.0), num(1.0), num(0.0))

    value = evaluate(expr, {"soma": np.array([1000.0])})

    np.testing.assert_allclose(value, [1000.0])


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        ("logistic", lambda x: 1.0 / (1.0 + np.exp(-x))),
        ("relu", lambda x: np.maximum(x, 0.0)),
        ("linear", lambda x: x),
        ("tanh", np.tanh),
        ("abs", np.abs),
        ("exp", np.exp),
    ],
)
def test_a_transfer_function_is_applied_elementwise(func, expected):
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])

    np.testing.assert_allclose(evaluate(call(func, ref("x")), {"x": x}), expected(x))


def test_arithmetic_follows_the_tree():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    expr = binary("-", binary("*", num(2.0), ref("a")), binary("/", ref("b"), ref("a")))

    np.testing.assert_allclose(evaluate(expr, {"a": a, "b": b}), 2 * a - b / a)


def test_clip_min_and_max_take_their_arguments_in_order():
    x = np.array([-3.0, 0.5, 3.0])
    env = {"x": x}

    clipped = evaluate(call("clip", ref("x"), num(-1.0), num(1.0)), env)
    smaller = evaluate(call("min", ref("x"), num(0.0)), env)
    larger = evaluate(call("max", ref("x"), num(0.0)), env)

    np.testing.assert_array_equal(clipped, [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(smaller, [-3.0, 0.0, 0.0])
    np.testing.assert_array_equal(larger, [0.0, 0.5, 3.0])


def test_a_compiled_expression_reads_the_live_value():
    state = {"u": np.array([0.0])}
    compiled = compile_expr(
        binary("+", ref("u"), num(1.0)), lambda r: lambda: state[r.dotted]
    )

    first = compiled()
    state["u"] = np.array([41.0])

    assert first[0] == 1.0 and compiled()[0] == 42.0


def test_an_expression_without_names_is_a_constant():
    compiled = compile_expr(binary("*", num(3.0), num(4.0)), lambda r: 0.0)

    assert compiled == 12.0


def test_an_unknown_name_is_an_error():
    with pytest.raises(ExprError, match="unknown name 'missing'"):
        evaluate(ref("missing"), {})


def test_a_call_of_a_non_builtin_is_an_error():
    with pytest.raises(ExprError, match="not a built-in"):
        evaluate(call("phi", num(1.0)), {})
