"""Small specs for the tests of the passes, and helpers to read the results.

``spec`` builds the smallest valid network around the lines a test cares
about, so that each test shows only what it is about; ``at`` finds where a
piece of text is, so that a test can say "the error is at ``pre.soma``"
instead of counting columns; ``show`` prints a network-level expression
back as text.
"""

from __future__ import annotations

from pathlib import Path

from mcdl import ir
from mcdl.compiler import Result, compile_file, compile_text

ROOT = Path(__file__).resolve().parents[2]
BARS = ROOT / "specs" / "bars.mcdl"

NEURON = """\
neuron N {
    compartment soma { leak = 0.1 }
    rate = relu(soma)
}
"""


def spec(
    top: str = "",
    network: str = "",
    *,
    neuron: str = NEURON,
    projection: str = "project x -> out.pyr.soma as W",
    protocol: str = "protocol { pattern = 10 ms }",
) -> str:
    """A valid spec: one input ``x``, one output ``out.pyr`` of type ``N``.

    ``top`` goes before the network, ``network`` inside it; ``projection``
    and ``protocol`` replace the default ones.
    """
    return (
        f"{neuron}{top}\n"
        "network n {\n"
        "    input x[1]\n"
        "    layer out { pyr: N[1] }\n"
        f"    {projection}\n"
        "    nudge out.pyr.soma from target g = 1\n"
        f"    {protocol}\n"
        f"{network}\n"
        "}\n"
    )


def check(text: str) -> Result:
    """Compile ``text`` as the spec ``test.mcdl``."""
    return compile_text(text, name="test.mcdl")


def bars() -> Result:
    """Compile ``specs/bars.mcdl``."""
    return compile_file(BARS)


def found(result: Result) -> set[tuple[str, int, int]]:
    """The (code, line, column) of every diagnostic of ``result``."""
    return {(d.code, d.span.line, d.span.column) for d in result.diagnostics}


def at(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """The (line, column) of the ``occurrence``-th ``needle`` in ``text``."""
    offset = -1
    for _ in range(occurrence):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def show(expr: ir.Expr) -> str:
    """A network-level expression as text, fully parenthesised."""
    if isinstance(expr, ir.Num):
        return f"{expr.value:g}"
    if isinstance(expr, ir.Ref):
        return expr.dotted
    if isinstance(expr, ir.Unary):
        return f"-{show(expr.operand)}"
    if isinstance(expr, ir.Binary):
        return f"({show(expr.left)} {expr.op} {show(expr.right)})"
    args = [show(a) for a in expr.args] + [
        f"{k.name} = {show(k.value)}" for k in expr.keywords
    ]
    return f"{expr.func}({', '.join(args)})"
