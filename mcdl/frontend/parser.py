"""Parsing MCDL text into a Lark tree, with every syntax error reported.

Rules checked here:

1. The text is at most ``MAX_BYTES`` long and at most ``MAX_TOKENS`` tokens
   (E0103), and valid UTF-8 (E0106). The token limit bounds the time a parse
   takes: Lark's parser handles some tens of thousands of tokens a second.
2. The text follows ``grammar/mcdl.lark`` (E0101, E0102). After an error the
   parser drops the offending token and goes on, so one run reports the
   errors of several statements. An error is taken to follow from the
   previous one, and is not reported, when it is on the same line or when
   fewer than ``RECOVERED`` tokens were accepted in between. After
   ``MAX_RECOVERIES`` errors, reported or not, the parser gives up.
3. Blocks and expressions nest at most ``MAX_DEPTH`` deep (E0104), so that
   no later stage recurses without bound.
"""

from __future__ import annotations

import gc
from functools import lru_cache

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from mcdl.diagnostics import Diagnostic, error
from mcdl.resources import grammar_path
from mcdl.source import SourceFile, Span

MAX_BYTES = 1_000_000
MAX_TOKENS = 200_000
MAX_DEPTH = 100
MAX_ERRORS = 20
MAX_RECOVERIES = 200
RECOVERED = 3

_READABLE = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "UNIT": "a unit",
    "$END": "the end of the file",
}


class _TooManyTokens(Exception):
    """Raised by the lexer at token ``MAX_TOKENS + 1``; carries that token."""

    def __init__(self, token: lark.Token) -> None:
        super().__init__(token)
        self.token = token


class _TokenCounter:
    """Counts the tokens the lexer produces, to tell recovery from cascades.

    It also stops the parse at ``MAX_TOKENS`` tokens.
    """

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, token: lark.Token) -> lark.Token:
        self.count += 1
        if self.count > MAX_TOKENS:
            raise _TooManyTokens(token)
        return token


_COUNTER = _TokenCounter()


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = grammar_path().read_text(encoding="utf-8")
    options = dict(
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=False,
    )
    names = [t.name for t in lark.Lark(grammar, **options).terminals]
    return lark.Lark(
        grammar, lexer_callbacks={name: _COUNTER for name in names}, **options
    )


def parse(source: SourceFile) -> tuple[lark.Tree | None, list[Diagnostic]]:
    """Parse ``source``; return its tree, or None and the syntax errors."""
    if len(source.text.encode("utf-8", errors="replace")) > MAX_BYTES:
        span = Span.point(source.name, 1, 1)
        message = f"the file is larger than {MAX_BYTES} bytes"
        return None, [error("E0103", span, message)]

    diagnostics: list[Diagnostic] = []
    parser = _parser()
    _COUNTER.count = 0
    last_error_at = [-RECOVERED]
    recoveries = [0]

    def on_error(exc: UnexpectedInput) -> bool:
        recoveries[0] += 1
        if recoveries[0] > MAX_RECOVERIES:
            return False
        diagnostic = _syntax_error(source, exc)
        last = diagnostics[-1].span.line if diagnostics else 0
        recovered = _COUNTER.count - last_error_at[0] > RECOVERED
        if diagnostic.span.line > last and (recovered or not diagnostics):
            diagnostics.append(diagnostic)
        last_error_at[0] = _COUNTER.count
        if diagnostic.code == "E0102" or len(diagnostics) >= MAX_ERRORS:
            return False
        return True

    # The parse allocates many small objects and frees none of them; pausing
    # the cyclic garbage collector keeps its cost from growing with the file.
    collecting = gc.isenabled()
    gc.disable()
    try:
        tree = parser.parse(source.text, on_error=on_error)
    except _TooManyTokens as exc:
        token = exc.token
        span = Span.point(source.name, token.line or 1, token.column or 1)
        message = f"the file has more than {MAX_TOKENS:,} tokens"
        hint = "split the spec into files that import each other"
        return None, [error("E0103", span, message, hint)]
    except UnexpectedInput as exc:
        if not diagnostics:
            diagnostics.append(_syntax_error(source, exc))
        return None, diagnostics
    finally:
        if collecting:
            gc.enable()
    if diagnostics:
        return None, diagnostics

    too_deep = _first_too_deep(tree)
    if too_deep is not None:
        message = f"nesting deeper than {MAX_DEPTH} levels"
        hint = "split the expression into named constants or functions"
        return None, [error("E0104", _tree_span(source, too_deep), message, hint)]
    return tree, []


def _syntax_error(source: SourceFile, exc: UnexpectedInput) -> Diagnostic:
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        span = source.end_span()
        expected = _expected(exc.expected)
        return error(
            "E0102", span, "the file ends in the middle of a statement", expected
        )
    if isinstance(exc, UnexpectedCharacters):
        char = (
            source.text[exc.pos_in_stream]
            if exc.pos_in_stream < len(source.text)
            else ""
        )
        span = Span.point(source.name, line, column)
        if source.text.startswith("/*", exc.pos_in_stream):
            return error("E0101", span, "this block comment is never closed with */")
        return error("E0101", span, f"unexpected character {char!r}")
    token = exc.token
    end_column = column + max(1, len(str(token)))
    span = Span(
        path=source.name, line=line, column=column, end_line=line, end_column=end_column
    )
    return error("E0101", span, f"unexpected {str(token)!r}", _expected(exc.expected))


def _expected(names: set[str]) -> str | None:
    words = sorted({_readable(name) for name in names if not name.startswith("_")})
    if not words:
        return None
    if len(words) > 8:
        words = words[:8] + ["..."]
    return "expected " + ", ".join(words)


def _readable(terminal: str) -> str:
    if terminal in _READABLE:
        return _READABLE[terminal]
    for definition in _parser().terminals:
        if definition.name == terminal:
            pattern = definition.pattern
            if isinstance(pattern, lark.lexer.PatternStr):
                return f"'{pattern.value}'"
    return terminal.lower()


_EXPRESSION_RULES = {"add", "sub", "mul", "div", "pow", "neg", "call", "unary"}


def _first_too_deep(tree: lark.Tree) -> lark.Tree | None:
    """The outermost expression (or block) that nests deeper than allowed."""
    stack: list[tuple[lark.Tree, int, lark.Tree | None]] = [(tree, 1, None)]
    while stack:
        node, depth, expression = stack.pop()
        if expression is None and node.data in _EXPRESSION_RULES:
            expression = node
        if depth > MAX_DEPTH:
            return expression or node
        for child in node.children:
            if isinstance(child, lark.Tree):
                stack.append((child, depth + 1, expression))
    return None


def _tree_span(source: SourceFile, tree: lark.Tree) -> Span:
    meta = tree.meta
    if getattr(meta, "empty", True):
        return Span.point(source.name, 1, 1)
    return Span(
        path=source.name,
        line=meta.line,
        column=meta.column,
        end_line=meta.end_line,
        end_column=meta.end_column,
    )
