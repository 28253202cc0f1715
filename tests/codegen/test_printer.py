"""The expression printer writes numpy code that computes what the IR says."""

from __future__ import annotations

import numpy as np
import pytest

from mcdl import ir
from mcdl.codegen import printer
from mcdl.codegen.printer import PrintError, Py
from mcdl.sim import evaluate
from mcdl.source import Span

SPAN = Span(path="test.mcdl", line=1, column=1, end_line=1, end_column=2)


def num(value: float) -> ir.Num:
    return ir.Num(span=SPAN, value=value)


def ref(*parts: str) -> ir.Ref:
    return ir.Ref(span=SPAN, parts=parts)


def binary(op: str, left: ir.Expr, right: ir.Expr) -> ir.Binary:
    return ir.Binary(span=SPAN, op=op, left=left, right=right)


def neg(operand: ir.Expr) -> ir.Unary:
    return ir.Unary(span=SPAN, operand=operand)


def call(func: str, *args: ir.Expr) -> ir.Call:
    return ir.Call(span=SPAN, func=func, args=args)


def run(code: str, **values: np.ndarray) -> np.ndarray:
    """Evaluate printed code with numpy and the given variables."""
    return eval(code, {"np": np}, values)  # noqa: S307 - code printed by the test


def test_numbers_read_back_bit_for_bit() -> None:
    for value in (0.1, 1 / 3, 1e-300, 2.5e20, 123456789.123, 5e-324):
        text = printer.to_python(num(value), {})
        assert float(text) == value
        assert "e+" not in text


def test_negative_and_special_numbers() -> None:
    assert printer.to_python(num(-0.5), {}) == "-0.5"
    assert printer.to_python(num(float("inf")), {}) == "np.inf"
    assert printer.to_python(num(float("nan")), {}) == "np.nan"


def test_references_are_looked_up_never_copied() -> None:
    expr = binary("*", ref("pre", "rate"), ref("post", "soma"))
    refs = {"pre.rate": "r[None, :]", "post.soma": "u[:, None]"}
    assert printer.to_python(expr, refs) == "r[None, :] * u[:, None]"


def test_an_unknown_name_is_an_error_naming_it() -> None:
    with pytest.raises(PrintError, match="'post.apical'"):
        printer.to_python(ref("post", "apical"), {"post.soma": "u"})


def test_an_unknown_function_is_an_error() -> None:
    with pytest.raises(PrintError, match="not a built-in"):
        printer.to_python(call("sigmoid", ref("x")), {"x": "x"})


def test_parentheses_keep_the_grouping_of_the_tree() -> None:
    a, b, c = ref("a"), ref("b"), ref("c")
    refs = {"a": "a", "b": "b", "c": "c"}
    cases = {
        binary("-", a, binary("-", b, c)): "a - (b - c)",
        binary("-", binary("-", a, b), c): "a - b - c",
        binary("+", a, binary("+", b, c)): "a + (b + c)",
        binary("*", binary("+", a, b), c): "(a + b) * c",
        binary("/", a, binary("*", b, c)): "a / (b * c)",
        binary("**", a, binary("**", b, c)): "np.power(a, np.power(b, c))",
        neg(binary("*", a, b)): "-(a * b)",
        neg(neg(a)): "a",
        binary("*", neg(a), b): "-a * b",
        neg(binary("+", a, b)): "-(a + b)",
    }
    for expr, text in cases.items():
        assert printer.to_python(expr, refs) == text


def test_code_that_is_not_atomic_is_parenthesised() -> None:
    expr = binary("*", num(2.0), ref("v"))
    assert printer.to_python(expr, {"v": "W @ r"}) == "2.0 * (W @ r)"


def test_folding_leaves_out_identities_and_computes_constants() -> None:
    x = ref("x")
    refs = {"x": "x"}
    assert printer.to_python(binary("*", num(1.0), x), refs) == "x"
    assert printer.to_python(binary("-", x, num(0.0)), refs) == "x"
    assert printer.to_python(binary("/", x, num(1.0)), refs) == "x"
    assert printer.to_python(binary("*", num(0.5), num(0.2)), refs) == repr(0.5 * 0.2)
    assert printer.to_python(binary("-", num(0.0), x), refs) == "-x"
    assert printer.to_python(binary("*", num(0.1), neg(x)), refs) == "-0.1 * x"
    assert printer.to_python(binary("-", x, num(-0.5)), refs) == "x + 0.5"


def test_soft_relu_with_unit_parameters_is_one_call() -> None:
    expr = call("soft_relu", ref("soma"), num(1.0), num(1.0), num(0.0))
    assert printer.to_python(expr, {"soma": "u"}) == "np.logaddexp(0.0, u)"


@pytest.mark.parametrize(
    "func, args",
    [
        ("exp", (0.3,)),
        ("log", (0.3,)),
        ("tanh", (0.3,)),
        ("abs", (-0.3,)),
        ("logistic", (0.3,)),
        ("soft_relu", (0.3, 0.1, 2.0, 3.0)),
        ("relu", (-0.3,)),
        ("linear", (0.3,)),
        ("min", (0.3, 0.2)),
        ("max", (0.3, 0.2)),
        ("clip", (0.3, 0.0, 0.25)),
    ],
)
def test_every_builtin_computes_what_the_reference_computes(
    func: str, args: tuple[float, ...]
) -> None:
    values = np.linspace(-2.0, 2.0, 7)
    expr = call(func, binary("*", ref("x"), num(args[0])), *map(num, args[1:]))
    printed = run(printer.to_python(expr, {"x": "x"}), x=values)
    reference = evaluate(expr, {"x": values})
    np.testing.assert_array_equal(printed, reference)


def test_an_expression_and_the_reference_agree_exactly() -> None:
    u = np.linspace(-3.0, 3.0, 11)
    v = np.cos(u)
    expr = binary(
        "*",
        binary("-", call("soft_relu", ref("u"), num(1), num(1), num(0)), ref("v")),
        binary("**", call("logistic", ref("v")), num(2.0)),
    )
    printed = run(printer.to_python(expr, {"u": "u", "v": "v"}), u=u, v=v)
    np.testing.assert_array_equal(printed, evaluate(expr, {"u": u, "v": v}))


def test_an_expression_given_for_a_name_is_printed_in_its_place() -> None:
    refs = {
        "post.basal": "v[:, None]",
        "post.basal.prediction": binary("*", num(0.5), ref("post", "basal")),
    }
    expr = call("exp", ref("post", "basal", "prediction"))
    assert printer.to_python(expr, refs) == "np.exp(0.5 * v[:, None])"


def test_a_name_defined_by_itself_is_an_error() -> None:
    with pytest.raises(PrintError, match="itself"):
        printer.to_python(ref("a"), {"a": binary("+", ref("a"), num(1.0))})


def test_assign_splits_a_long_statement_into_temporaries() -> None:
    expr = ref("x")
    for index in range(8):
        expr = call("tanh", binary("+", expr, binary("*", num(0.1), ref(f"y{index}"))))
    refs = {"x": "x", **{f"y{i}": f"long_variable_name_{i}" for i in range(8)}}
    lines = printer.assign("result", expr, refs, width=60)
    assert len(lines) > 1
    assert all(len(line) <= 60 for line in lines)
    values = {f"long_variable_name_{i}": np.full(3, 0.1 * i) for i in range(8)}
    values["x"] = np.arange(3.0)
    scope = {"np": np, **values}
    exec("\n".join(lines), scope)  # noqa: S102 - code printed by the test
    np.testing.assert_array_equal(
        scope["result"], run(printer.to_python(expr, refs), **values)
    )
    assert [line.split(" = ")[0] for line in lines[:-1]] == [
        f"t{i}" for i in range(1, len(lines))
    ]


def test_assign_wraps_what_temporaries_cannot_shorten() -> None:
    expr = binary("+", ref("a"), ref("b"))
    refs = {"a": "a" * 40, "b": "b" * 40}
    assert printer.assign("c", expr, refs, width=60) == [
        "c = (",
        f"    {'a' * 40}",
        f"    + {'b' * 40}",
        ")",
    ]


def test_generated_expressions_print_like_spec_ones() -> None:
    u = Py("u_soma")
    lines = printer.statement("i_soma", 0.1 * (0.0 - u) + 0.8 * (Py("v") - u), width=88)
    assert lines == ["i_soma = -0.1 * u_soma + 0.8 * (v - u_soma)"]


def test_structural_equality_ignores_spans() -> None:
    other = Span(path="elsewhere.mcdl", line=9, column=9, end_line=9, end_column=10)
    a = call("exp", ref("soma"))
    b = ir.Call(span=other, func="exp", args=(ir.Ref(span=other, parts=("soma",)),))
    assert printer.equal(a, b)
    assert not printer.equal(a, call("exp", ref("basal")))
