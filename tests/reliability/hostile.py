"""Hostile specs for the front end, and the check that it copes with them.

``tests/diagnostics/test_mutations.py`` breaks ``specs/bars.mcdl`` line by
line and throws random tokens and bytes at the parser. This module adds what
those do not reach:

* ``programs()``: specs built from the grammar's own rules (neuron types,
  functions, rules, layers, projections, nudgings, protocols) with names,
  numbers and strings drawn from hostile pools: Python keywords, dunders,
  module names, names that clash once dots become underscores, odd Unicode,
  numbers that overflow, underflow or run to a thousand digits, strings with
  quotes, new lines and paths that leave the folder. About one in three
  compiles, so the passes behind the parser and the code generator see them.
* ``mutated()``: such a spec with a few tokens replaced, dropped or doubled.
* ``extremes()``: the shapes that stress a parser's limits: deep nesting of
  every kind, long chains, long lines, huge numbers, NUL and other control
  characters, lone surrogates, BOMs, CR line ends.
* ``LIMIT_CASES``: inputs at and past every limit of the front end (size,
  tokens, nesting, expansion, population size, pattern length), each with
  the diagnostic it must give.

``copes(text)`` compiles a text and checks that the outcome is diagnostics
located inside the text, or a network; for a network it also renders the
package in both layouts and checks that every file parses as Python. The
test ``test_hostile_input.py`` draws a bounded number of examples;
``benchmarks/fuzz.py`` draws many more, with the same strategies.
"""

from __future__ import annotations

import ast
import keyword
import time
from dataclasses import dataclass, field

from hypothesis import strategies as st

from mcdl.build import render_checked, spec_weights
from mcdl.compiler import Result, compile_text
from mcdl.frontend.parser import MAX_BYTES, MAX_TOKENS

# -- Pools of hostile pieces ---------------------------------------------------

HOSTILE_NAMES = [
    *keyword.kwlist,
    "match",
    "case",
    "_",
    "__init__",
    "__class__",
    "_private",
    "numpy",
    "np",
    "lava",
    "mcdl",
    "os",
    "sys",
    "json",
    "self",
    "process",
    "models",
    "network",
    "Network",
    "Var",
    "AbstractProcess",
    "k",
    "t1",
    "rate",
    "target",
    "soma",
    "pre",
    "post",
    "w",
    "phi",
    "a_b",
    "a",
    "b_c",
    "hidden_1",
    "hidden1",
    "x" * 200,
    "schicht_ü",
    "Ω",
    "名前",
    "e\u0301",
    "a\u200bb",
    "ǅ",
    "ℌ",
]
PLAIN_NUMBERS = ["0", "1", "2", "0.5", "0.1", "3", "1e-3", "10"]
HOSTILE_NUMBERS = [
    "1e308",
    "1e309",
    "1e-320",
    "1e99999",
    "9" * 400,
    "0." + "0" * 400 + "1",
    "00001",
    "1.",
    ".5",
    "10000000",
    "10000001",
    "20000",
    "4294967296",
    "18446744073709551617",
]
UNITS = ["", " ms", " s", "ms", " ms ms"]
STRINGS = [
    '"std/../../../etc/passwd"',
    '"../outside.mcdl"',
    '"/etc/passwd"',
    '"/dev/zero"',
    '"/proc/self/mem"',
    '""',
    '"\\""',
    '"a\\\\b"',
    '"""',
    '"' + "a" * 5000 + '"',
    '"evil\\"); import os; os.system(\\"id\\")  #"',
    '"ü.npy"',
    '"w.npy"',
]
BUILTIN_CALLS = ["exp", "log", "tanh", "abs", "logistic", "relu", "linear"]


def _maybe(draw, plain: str, hostile: list[str], odds: int = 30) -> str:
    """``plain``, or one time in ``odds`` a piece of ``hostile``."""
    if draw(st.integers(0, odds - 1)) == 0:
        return draw(st.sampled_from(hostile))
    return plain


def _number(draw) -> str:
    plain = draw(st.sampled_from(PLAIN_NUMBERS))
    return _maybe(draw, plain, HOSTILE_NUMBERS)


@st.composite
def expressions(draw, refs: tuple[str, ...] = ("soma",), depth: int = 3) -> str:
    """An expression of the grammar over ``refs``, now and then hostile."""
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        if draw(st.booleans()):
            return draw(st.sampled_from(refs))
        unit = _maybe(draw, "", UNITS)
        return _number(draw) + unit
    inner = expressions(refs, depth - 1)
    kind = draw(st.integers(0, 4))
    if kind == 0:
        op = draw(st.sampled_from(["+", "-", "*", "/", "**"]))
        return f"{draw(inner)} {op} {draw(inner)}"
    if kind == 1:
        return f"-{draw(inner)}"
    if kind == 2:
        return f"({draw(inner)})"
    if kind == 3:
        func = draw(st.sampled_from([*BUILTIN_CALLS, "f", "f", "g", "soft_relu"]))
        return f"{func}({draw(inner)})"
    arity = {"clip": 3, "min": 2, "max": 2, "soft_relu": 4, "phi": 1, "nope": 1}
    func = draw(st.sampled_from(list(arity)))
    count = _maybe(draw, str(arity[func]), ["0", "1", "5"])
    args = [draw(inner) for _ in range(int(count))]
    if draw(st.integers(0, 20)) == 0:
        args.append(f"{draw(st.sampled_from(['gamma', 'beta', 'k', 'x']))} = 1")
    return f"{func}({', '.join(args)})"


POSITIVE_NUMBERS = ["0.1", "0.5", "1", "2", "0.8"]


def _positive(draw) -> str:
    plain = draw(st.sampled_from(POSITIVE_NUMBERS))
    return _maybe(draw, plain, [*HOSTILE_NUMBERS, "0", "-1"])


@st.composite
def programs(draw) -> str:
    """A spec built from the grammar's statements, now and then hostile.

    The names are chosen once and used wherever they belong, so that a
    hostile name goes as far as the compiler lets it.
    """

    def name(plain: str) -> str:
        return _maybe(draw, plain, HOSTILE_NAMES)

    network, source, layer = name("n"), name("x"), name("hidden")
    population, soma, projection = name("pyr"), name("soma"), name("W")
    sizes = ["0", "-1", "1.5", "20000", "10000001", "1e400"]
    size_in = _maybe(draw, draw(st.sampled_from(["1", "2", "3"])), sizes)
    size = _maybe(draw, draw(st.sampled_from(["1", "2", "3"])), sizes)
    parts = []
    if draw(st.integers(0, 20)) == 0:
        parts.append(f"import {draw(st.sampled_from(STRINGS))}")
    if draw(st.booleans()):
        parts.append("import " + _maybe(draw, '"std/microcircuit.mcdl"', STRINGS))
    parts.append(f"const c = {draw(expressions(('1', '2'), 2))}")
    parts.append(f"function f(x, k = 2) = {draw(expressions(('x', 'k', 'c'), 2))}")
    if draw(st.booleans()):
        parts.append("function g(x) = " + _maybe(draw, "f(x) * 2", ["f(x) + f(x)"]))
    refs = (soma, "c", _maybe(draw, soma, ["basal"]))
    neuron = [
        "neuron N {",
        f"    compartment {soma} {{ leak = {_positive(draw)}  noise = "
        + _maybe(draw, draw(st.sampled_from(["0", "0.1"])), ["1e300", "-1"])
        + " }",
        "    compartment basal dendrite",
        f"    couple basal -> {soma} g = {_positive(draw)}",
        f"    rate = soft_relu({soma}) + 0.1 * ({draw(expressions(refs, 3))})",
    ]
    if draw(st.integers(0, 20)) == 0:
        neuron.append(
            f"    compartment {soma} {{ current = {draw(expressions(refs))} }}"
        )
    parts.append("\n".join([*neuron, "}"]))
    rule = _maybe(
        draw,
        f"eta * (post.{soma} - phi(post.basal.prediction)) * pre.rate",
        ["eta * pre.soma", "eta * w", "x", "eta * post.rate * pre.rate"],
    )
    parts.append(f"rule r(eta = 0.1) {{ dw = {rule} }}")
    init = _maybe(
        draw,
        draw(st.sampled_from(["constant(0.5)", "uniform(-1, 1, seed = 1)"])),
        [
            "uniform(-1e308, 1e308, seed = 1)",
            "normal(0, 1e308, seed = 2)",
            "self_predicting()",
            "uniform(1, -1, seed = -1)",
            *(f"file({string})" for string in STRINGS),
        ],
        odds=10,
    )
    body = [
        f"network {network} {{",
        f"    dt = {_maybe(draw, '0.1 ms', ['0 ms', '1e-300 ms', '0.1', '-1 ms'])}",
        f"    seed = {_maybe(draw, '1', HOSTILE_NUMBERS + ['-1', '0.5'])}",
        f"    input {source}[{size_in}]",
        f"    layer {layer} {{ {population}: N[{size}] }}",
        "    layer out { pyr: N[2] }",
        f"    project {source} -> {layer}.{population}.basal as {projection} {{",
        f"        init {init}",
        "        learn r()",
        "    }",
        f"    project {layer}.{population} -> out.pyr.basal as V {{ init {init} }}",
        f"    nudge out.pyr.{soma} from target g = {_positive(draw)}",
        "    protocol {",
        "        pattern = "
        + _maybe(draw, draw(st.sampled_from(["2 ms", "1 ms"])), ["1e9 s", "0 ms", "2"]),
        "        settle = " + _maybe(draw, "0.5 ms", ["5 ms", "0.55 ms"]),
        "        lowpass = " + _maybe(draw, "1 ms", ["-1 ms", "0 ms"]),
        "        "
        + _maybe(
            draw,
            f"phase p {{ epochs = 1  learn {projection} }}",
            [
                "phase p { patterns = 1e12 }",
                "phase q {}",
                "phase r { inputs = random  patterns = 3 }",
                "phase s { epochs = 1  patterns = 2 }",
                "phase t { learn V }",
            ],
            odds=10,
        ),
        "    }",
        "}",
    ]
    parts.append("\n".join(body))
    return "\n".join(parts) + "\n"


@st.composite
def mutated(draw) -> str:
    """A spec of ``programs()`` with a few of its words replaced or doubled."""
    words = draw(programs()).split(" ")
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(words) - 1))
        action = draw(st.integers(0, 2))
        if action == 0:
            words[where] = draw(st.sampled_from(["{", "}", "(", ")", "->", "=", ""]))
        elif action == 1:
            words.insert(where, words[where])
        else:
            words[where] = draw(st.sampled_from(HOSTILE_NAMES))
    return " ".join(words)


@st.composite
def extremes(draw) -> str:
    """Inputs at the edges: nesting, chains, long lines, control characters."""
    n = draw(st.integers(1, 3000))
    kind = draw(st.integers(0, 11))
    if kind == 0:
        return "const a = " + "(" * n + "1" + ")" * n
    if kind == 1:
        return "const a = " + "-" * n + "1"
    if kind == 2:
        return "const a = " + "1 + " * n + "1"
    if kind == 3:
        return "const a = " + "f(" * n + "1" + ")" * n
    if kind == 4:
        return "const a = " + "2 ** " * n + "1"
    if kind == 5:
        return "network n {" * n + "}" * n
    if kind == 6:
        return "const " + "a" * (n * 100) + " = 1\n"
    if kind == 7:
        return "// " + draw(st.text(max_size=50)) * n
    if kind == 8:
        chars = st.sampled_from(
            ["\x00", "\r", "\ufeff", "\ud800", "\u202e", "\x1b", "\t"]
        )
        return draw(st.text(alphabet=chars, max_size=20)).join(["network n {", "}"])
    if kind == 9:
        return "const a = 1" + "0" * (n * 10) + "\nnetwork n { seed = a }"
    if kind == 10:
        return "".join(f"const c{i} = c{i + 1} + 1\n" for i in range(n))
    return "/*" * n + "*/" * draw(st.integers(0, n))


HOSTILE_TEXTS = st.one_of(programs(), mutated(), extremes())


# -- The check -------------------------------------------------------------------


@dataclass
class Outcome:
    """What one input gave: its diagnostics' codes, whether it rendered."""

    codes: set[str] = field(default_factory=set)
    compiled: bool = False
    rendered: bool = False
    seconds: float = 0.0


def copes(text: str, name: str = "hostile.mcdl", render: bool = True) -> Outcome:
    """Compile ``text``: only located diagnostics, or a network that renders.

    Raises:
        AssertionError: a diagnostic lies outside the text, a result is
            neither a network nor errors, or a rendered file is not Python.
    """
    started = time.perf_counter()
    result = compile_text(text, name=name)
    outcome = Outcome(codes={d.code for d in result.diagnostics})
    _check_located(text, name, result)
    if result.ok and render:
        outcome.compiled = True
        outcome.rendered = _renders(result)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _check_located(text: str, name: str, result: Result) -> None:
    lines = text.split("\n")
    for diagnostic in result.diagnostics:
        span = diagnostic.span
        if span.path == name:
            assert 1 <= span.line <= max(1, len(lines)), diagnostic
            line = lines[span.line - 1] if lines else ""
            assert 1 <= span.column <= len(line) + 1, diagnostic
    assert result.ok == (result.network is not None)
    if not result.ok:
        assert any(d.severity.value == "error" for d in result.diagnostics)


def _renders(result: Result) -> bool:
    """Render both layouts; every Python file must parse. False if refused."""
    from pathlib import Path

    weights, problems = spec_weights(result.network, Path("hostile.mcdl"))
    if weights is None:
        assert problems, "an initialiser failed without a diagnostic"
        return False
    for layout in ("fused", "layered"):
        files, problems = render_checked(result.network, weights, "cpu", layout)
        if files is None:
            assert [d.code for d in problems] == ["E0105"], problems
            return False
        for path, data in files.items():
            if path.endswith(".py"):
                ast.parse(data.decode("utf-8"), filename=path)
    return True


# -- Inputs at and past every limit ---------------------------------------------

_SMALL = """\
neuron N {
    compartment soma { leak = 0.1  noise = NOISE }
    rate = relu(soma)
}
network n {
    dt = DT
    input x[INPUT]
    layer out { pyr: N[OUTPUT] }
    project x -> out.pyr.soma as W
    nudge out.pyr.soma from target g = 1
    protocol { pattern = PATTERN  PHASE }
}
"""


def small(**parts: str) -> str:
    """The smallest spec, with some of its values replaced."""
    values = dict(NOISE="0", DT="0.1 ms", INPUT="1", OUTPUT="1", PATTERN="10 ms")
    values["PHASE"] = ""
    values.update(parts)
    text = _SMALL
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def _doubling(levels: int) -> str:
    functions = "function f0(x) = x + x\n" + "".join(
        f"function f{i}(x) = f{i - 1}(x) + f{i - 1}(x)\n" for i in range(1, levels)
    )
    return functions + small().replace("relu(soma)", f"relu(f{levels - 1}(soma))")


def _chain(length: int) -> str:
    functions = "function f0(x) = x\n" + "".join(
        f"function f{i}(x) = f{i - 1}(x) + 0\n" for i in range(1, length)
    )
    return functions + small().replace("relu(soma)", f"relu(f{length - 1}(soma))")


LIMIT_CASES: dict[str, tuple[str, str]] = {
    "bytes past the limit": ("// " + "x" * MAX_BYTES + "\n", "E0103"),
    "tokens past the limit": ("const a = " + "1+" * (MAX_TOKENS // 2) + "1", "E0103"),
    "one long line of tokens": ("a " * (MAX_BYTES // 2 - 10), "E0101"),
    "a million open parentheses": ("(" * (MAX_BYTES - 10), "E0101"),
    "unary minus 190,000 deep": ("const a = " + "-" * 190_000 + "1", "E0104"),
    "a sum of 99,000 terms": ("const a = " + "1+" * 99_000 + "1", "E0104"),
    "calls 60,000 deep": ("const a = " + "f(" * 60_000 + ")" * 60_000, "E0104"),
    "a chain of 5,000 constants": (
        "".join(f"const c{i} = c{i + 1} + 1\n" for i in range(5000))
        + "const c5000 = 1\n"
        + small().replace("dt = 0.1 ms", "seed = c0"),
        "E0104",
    ),
    "functions doubling 40 times in a constant": (
        _doubling(40).replace("dt = 0.1 ms", "seed = f39(1)"),
        "E0107",
    ),
    "functions doubling 40 times in a rate": (_doubling(40), "E0107"),
    "a chain of 300 functions in a rate": (_chain(300), "E0104"),
    "a thousand-digit number": (small(DT="1" + "0" * 1000 + " ms"), "E0404"),
    "a population of 10,000,001": (small(OUTPUT="10000001"), "E0804"),
    "20,000 x 20,000 weights": (small(INPUT="20000", OUTPUT="20000"), "E0804"),
    "a pattern of 1e300 steps": (small(DT="1e-300 ms", PATTERN="1 ms"), "E0804"),
    "a pattern's noise of 2**29 values": (
        small(NOISE="0.1", OUTPUT="100000", PATTERN="537 s", DT="0.1 ms"),
        "E0804",
    ),
    "a phase of 1e12 random patterns": (
        small(PHASE="phase p { inputs = random  patterns = 1e12 }"),
        "E0804",
    ),
}
"""Each limit case: the text, and the code it must be reported with."""
