"""The canonical layout of an MCDL spec, with its comments kept.

The formatter changes only whitespace and drops the optional ``;``
separators; every other token, and every comment, is kept in its order. It
parses the text with the grammar (all tokens kept, comments collected by the
lexer), decides the separator before each token from the parse tree, and then
prints the tokens with the comments attached to them.

The layout:

1. Four spaces of indentation per block; ``{`` ends the line that opens a
   block and ``}`` stands on a line of its own. A block with nothing in it is
   ``{}``.
2. One statement per line. A ``compartment NAME { settings }`` block without
   comments stays on one line, its settings two spaces apart, when that line
   fits in ``WIDTH`` columns.
3. One space around ``=``, ``->``, ``:`` (after it only) and the binary
   operators, after ``,``, and between a number and its unit; none inside
   brackets, around ``.``, before ``(`` of a call or after a unary minus.
4. A line longer than ``WIDTH`` is broken after the commas of its bracketed
   lists, outermost list first, the continuation aligned just inside the
   bracket. Long expressions without a bracketed list are not broken.
5. Blank lines between statements are kept, at most one in a row, except
   just inside a block's braces. A neuron type, rule or network at the top of
   the file has a blank line before and after it.
6. A comment on the line of a token stays at the end of that line, two spaces
   after it (``//``) or one (``/* */``); a comment on a line of its own stays
   on a line of its own, indented like the statement after it. The lines of a
   block comment keep their indentation relative to its first line.

A ``;`` is kept only where it is needed: between a number and a setting
named ``s`` or ``ms``, which would otherwise read as a unit. A byte-order
mark at the start of the file is kept.

``format_text`` checks, before it returns, that the formatted text parses to
the same spec-level IR (ignoring spans) as the original; a difference is a bug
of the formatter and raises ``FormatterBug`` instead of changing a spec.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import lark
from lark import Token, Tree

from mcdl import ir
from mcdl.diagnostics import Diagnostic
from mcdl.frontend import imports, parser
from mcdl.frontend.transform import to_module
from mcdl.resources import grammar_path
from mcdl.source import SourceFile

WIDTH = 88
INDENT = 4

# Rules whose children between ``{`` and ``}`` (for ``start``: all children)
# are statements.
_BLOCKS = {
    "start",
    "neuron_decl",
    "compartment_decl",
    "rule_decl",
    "network_decl",
    "layer_decl",
    "projection_body",
    "protocol_decl",
    "phase_decl",
    "loihi_decl",
}
# Top-level declarations that get a blank line before and after them.
_SPACED = {"neuron_decl", "rule_decl", "network_decl"}
# Parents of a ``-`` or ``+`` that is a sign, not a binary operator.
_UNARY = {"neg", "unary"}
_UNITS = {"ms", "s"}
_OPENING = {"(", "["}
_BOM = "\ufeff"
_CLOSING = {")", "]"}


class FormatterBug(RuntimeError):
    """The formatted text would mean something else than the original."""


@dataclass
class Formatted:
    """The result of formatting one spec.

    ``text`` is the formatted spec, or None if the spec has errors, which
    are then in ``diagnostics``; ``source`` is the spec as read.
    """

    text: str | None
    diagnostics: list[Diagnostic]
    source: SourceFile | None

    @property
    def changed(self) -> bool:
        return self.text is not None and self.text != self.source.text


def format_text(text: str, name: str = "<spec>") -> Formatted:
    """Format spec ``text`` (reported as ``name`` in diagnostics).

    Raises ``FormatterBug`` if the result would not parse to the same
    spec-level IR as ``text``.
    """
    source = SourceFile(name=name, text=text)
    tree, diagnostics = parser.parse(source)
    if tree is None:
        return Formatted(None, diagnostics, source)
    # A byte-order mark stays in front of the formatted text.
    mark = _BOM if text.startswith(_BOM) else ""
    try:
        formatted = mark + _layout(text[len(mark) :])
    except lark.exceptions.LarkError as exc:
        raise FormatterBug(
            f"mcdlc fmt cannot read {name}, which the compiler parses ({exc}); "
            "the file was left as it is. Please report this as a bug of mcdlc fmt."
        ) from exc
    _check_same_meaning(source, tree, formatted)
    return Formatted(formatted, [], source)


def format_file(path: Path, name: str | None = None) -> Formatted:
    """Read and format the spec at ``path``; nothing is written."""
    shown = name or str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        # The loader turns an unreadable or undecodable file into the usual
        # diagnostics (E0701, E0106).
        loaded = imports.load_file(Path(path), shown)
        return Formatted(None, loaded.diagnostics, None)
    if "\x00" in text:
        loaded = imports.load_file(Path(path), shown)
        return Formatted(None, loaded.diagnostics, None)
    return format_text(text, shown)


def without_spans(node: ir.Node) -> dict:
    """``node`` as JSON-like data with every ``span`` left out."""
    return _drop_spans(node.model_dump(mode="json"))


def _drop_spans(value):
    if isinstance(value, dict):
        return {k: _drop_spans(v) for k, v in value.items() if k != "span"}
    if isinstance(value, list):
        return [_drop_spans(v) for v in value]
    return value


def _check_same_meaning(source: SourceFile, tree: lark.Tree, formatted: str) -> None:
    after, problems = parser.parse(SourceFile(name=source.name, text=formatted))
    before_ir = without_spans(to_module(tree, source.name))
    if after is None or without_spans(to_module(after, source.name)) != before_ir:
        detail = problems[0].message if problems else "the IR differs"
        raise FormatterBug(
            f"formatting {source.name} would change its meaning ({detail}); "
            "the file was left as it is. Please report this as a bug of mcdlc fmt."
        )


# -- Parsing with every token and comment -----------------------------------


class _Lossless:
    """The grammar's LALR parser keeping all tokens and collecting comments."""

    def __init__(self) -> None:
        self.comments: list[Token] = []
        self.parser = lark.Lark(
            grammar_path().read_text(encoding="utf-8"),
            parser="lalr",
            lexer="contextual",
            keep_all_tokens=True,
            maybe_placeholders=False,
            lexer_callbacks={
                "COMMENT": self.comments.append,
                "BLOCK_COMMENT": self.comments.append,
            },
        )

    def parse(self, text: str) -> tuple[Tree, list[Token]]:
        self.comments.clear()
        tree = self.parser.parse(text)
        unique = {c.start_pos: c for c in self.comments}
        return tree, [unique[k] for k in sorted(unique)]


@lru_cache(maxsize=1)
def _lossless() -> _Lossless:
    return _Lossless()


# -- Separators -------------------------------------------------------------


@dataclass(frozen=True)
class _Sep:
    """What comes before a token.

    ``kind`` is ``none``, ``space``, ``space2``, ``soft`` (a space, or a line
    break inside a bracketed list at ``depth``) or ``line`` (a new line at
    ``indent``; its own-line comments go at ``comment_indent``).
    """

    kind: str
    depth: int = 0
    indent: int = 0
    comment_indent: int = 0
    force_blank: bool = False

    @property
    def width(self) -> int:
        return {"none": 0, "space2": 2}.get(self.kind, 1)


_NONE, _SPACE, _SPACE2 = _Sep("none"), _Sep("space"), _Sep("space2")


def _line(indent: int, comment_indent: int | None = None, force_blank=False) -> _Sep:
    inner = indent if comment_indent is None else comment_indent
    return _Sep("line", indent=indent, comment_indent=inner, force_blank=force_blank)


@dataclass
class _Piece:
    token: Token
    parent: str
    sep: _Sep = _SPACE
    leading: list[_Comment] = field(default_factory=list)
    trailing: list[_Comment] = field(default_factory=list)
    blank_before: bool = False


@dataclass
class _Comment:
    token: Token
    newline_before: bool
    newline_after: bool
    blank_before: bool

    @property
    def is_line(self) -> bool:
        return self.token.type == "COMMENT"


@dataclass
class _Block:
    """A block's statements, by the indices of their pieces."""

    rule: str
    indent: int
    open: int | None
    close: int | None
    items: list[tuple[int, str]]


def _flatten(tree: Tree) -> tuple[list[_Piece], list[_Block]]:
    """Every token of ``tree`` in order, and the blocks with their statements."""
    pieces: list[_Piece] = []
    blocks: list[_Block] = []

    def walk(node: Tree, indent: int) -> None:
        if node.data not in _BLOCKS:
            for child in node.children:
                visit(child, node.data, indent)
            return
        block = _Block(node.data, indent, None, None, [])
        blocks.append(block)
        inside = node.data == "start"
        inner = indent if node.data == "start" else indent + INDENT
        for child in node.children:
            if isinstance(child, Token) and child == "{" and not inside:
                inside = True
                block.open = len(pieces)
                visit(child, node.data, indent)
            elif isinstance(child, Token) and child == "}" and inside:
                block.close = len(pieces)
                visit(child, node.data, indent)
            elif inside:
                data = child.data if isinstance(child, Tree) else ";"
                block.items.append((len(pieces), data))
                visit(child, node.data, inner)
            else:
                visit(child, node.data, indent)

    def visit(child, parent: str, indent: int) -> None:
        if isinstance(child, Token):
            pieces.append(_Piece(child, parent))
        else:
            walk(child, indent)

    walk(tree, 0)
    return pieces, blocks


def _pair_seps(pieces: list[_Piece]) -> None:
    """The separator of each token inside a statement, from its neighbours."""
    depth = 0
    previous: _Piece | None = None
    for piece in pieces:
        token = str(piece.token)
        piece.sep = _pair_sep(previous, piece, depth)
        if token in _OPENING:
            depth += 1
        elif token in _CLOSING:
            depth -= 1
        previous = piece


def _pair_sep(previous: _Piece | None, piece: _Piece, depth: int) -> _Sep:
    token = str(piece.token)
    if previous is None:
        return _line(0)
    before = str(previous.token)
    if token in {")", "]", ",", ".", ":", ";", "["}:
        return _NONE
    if before in {"(", "[", "."}:
        return _NONE
    if before in {"-", "+"} and previous.parent in _UNARY:
        return _NONE
    if token == "(" and piece.parent != "atom":
        return _NONE
    if before == ",":
        return _Sep("soft", depth=depth)
    return _SPACE


def _statement_seps(
    pieces: list[_Piece], blocks: list[_Block], comments: list[int]
) -> None:
    """Line breaks between statements, and the one-line compartment blocks."""
    for block in blocks:
        items = [(i, rule) for i, rule in block.items if rule != ";"]
        inner = block.indent + (0 if block.rule == "start" else INDENT)
        one_line = block.rule == "compartment_decl" and _fits_on_one_line(
            pieces, block, comments
        )
        for number, (index, rule) in enumerate(items):
            if one_line:
                pieces[index].sep = _SPACE if number == 0 else _SPACE2
                continue
            spaced = block.rule == "start" and number > 0
            spaced = spaced and (rule in _SPACED or items[number - 1][1] in _SPACED)
            pieces[index].sep = _line(inner, force_blank=spaced)
        if block.close is None:
            continue
        if one_line:
            pieces[block.close].sep = _SPACE if items else _NONE
        elif not items and not _comments_between(pieces, block, comments):
            pieces[block.close].sep = _NONE
        else:
            pieces[block.close].sep = _line(block.indent, block.indent + INDENT)


def _fits_on_one_line(pieces: list[_Piece], block: _Block, comments: list[int]) -> bool:
    if _comments_between(pieces, block, comments):
        return False
    start = block.open
    while start > 0 and pieces[start].sep.kind != "line":
        start -= 1
    later = [i for i, rule in block.items if rule != ";"][1:]
    width = block.indent
    for index in range(start, block.close + 1):
        piece = pieces[index]
        if piece.token == ";":
            continue
        if index != start:
            width += 2 if index in later else piece.sep.width
        width += len(str(piece.token))
    return width <= WIDTH


def _comments_between(pieces: list[_Piece], block: _Block, comments: list[int]) -> bool:
    start = pieces[block.open].token.end_pos
    end = pieces[block.close].token.start_pos
    return bisect.bisect_left(comments, start) < bisect.bisect_left(comments, end)


def _drop_semicolons(pieces: list[_Piece]) -> list[_Piece]:
    """Leave out every ``;`` except one that keeps a number from a unit."""
    kept: list[_Piece] = []
    for index, piece in enumerate(pieces):
        if piece.token != ";":
            kept.append(piece)
            continue
        after = next((p for p in pieces[index + 1 :] if p.token != ";"), None)
        before = kept[-1] if kept else None
        if (
            before is not None
            and before.token.type == "NUMBER"
            and after is not None
            and str(after.token) in _UNITS
        ):
            piece.sep = _NONE
            kept.append(piece)
    return kept


# -- Comments ---------------------------------------------------------------


def _attach_comments(pieces: list[_Piece], comments: list[Token], text: str) -> None:
    """Attach each comment to the token before it (same line) or after it."""
    starts = [p.token.start_pos for p in pieces]
    eof = _Piece(Token("$EOF", "", start_pos=len(text)), "start", _line(0))
    groups: dict[int, list[Token]] = {}
    for comment in comments:
        groups.setdefault(bisect.bisect_right(starts, comment.start_pos), []).append(
            comment
        )
    for after, group in groups.items():
        previous = pieces[after - 1] if after > 0 else None
        following = pieces[after] if after < len(pieces) else eof
        end = previous.token.end_pos if previous is not None else 0
        on_token_line = previous is not None
        for number, comment in enumerate(group):
            gap = text[end : comment.start_pos]
            nxt = (
                group[number + 1].start_pos
                if number + 1 < len(group)
                else following.token.start_pos
            )
            attached = _Comment(
                comment,
                newline_before="\n" in gap or end == 0,
                newline_after="\n" in text[comment.end_pos : nxt],
                blank_before=gap.count("\n") >= 2,
            )
            if on_token_line and not attached.newline_before:
                previous.trailing.append(attached)
            else:
                on_token_line = False
                following.leading.append(attached)
            end = comment.end_pos
    for index, piece in enumerate(pieces):
        end = 0
        if index > 0:
            previous = pieces[index - 1]
            last = previous.trailing[-1].token if previous.trailing else previous.token
            end = last.end_pos
        if piece.leading:
            end = piece.leading[-1].token.end_pos
        piece.blank_before = text[end : piece.token.start_pos].count("\n") >= 2
    if eof.leading:
        pieces.append(eof)


# -- Printing ---------------------------------------------------------------


class _Printer:
    def __init__(self, pieces: list[_Piece]) -> None:
        self.pieces = pieces
        self.lines: list[str] = []
        self.line = ""
        self.started = False
        self.at_block_start = False
        self.must_break = False
        self.align = [INDENT]
        self.plan: dict[int, bool] = {}

    def run(self) -> str:
        for index, piece in enumerate(self.pieces):
            self.piece(index, piece)
        self.lines.append(self.line.rstrip())
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        while self.lines and not self.lines[0]:
            self.lines.pop(0)
        return "\n".join(self.lines) + "\n" if self.lines else ""

    def newline(self, indent: int, blank: bool = False) -> None:
        if self.started:
            self.lines.append(self.line.rstrip())
            if blank and not self.at_block_start and self.lines[-1]:
                self.lines.append("")
        self.started = True
        self.line = " " * indent

    def piece(self, index: int, piece: _Piece) -> None:
        sep = piece.sep
        blank_first = sep.force_blank and not (
            piece.blank_before or any(c.blank_before for c in piece.leading)
        )
        if sep.kind == "line":
            self.align = [sep.indent + INDENT]
        comment_indent = sep.comment_indent if sep.kind == "line" else self.align[-1]
        newline_pending = False
        for comment in piece.leading:
            if comment.newline_before or not self.started:
                self.newline(comment_indent, comment.blank_before or blank_first)
                blank_first = False
            else:
                self.line += " "
            self.emit_comment(comment)
            self.at_block_start = False
            newline_pending = comment.is_line or comment.newline_after
        if piece.token.type == "$EOF":
            return
        if sep.kind == "line":
            if piece.leading and not newline_pending:
                self.line += " "
            else:
                blank = piece.blank_before and str(piece.token) != "}"
                self.newline(sep.indent, blank or blank_first)
        elif newline_pending or self.must_break:
            self.newline(self.align[-1])
        elif piece.leading:
            self.line += " "
        elif sep.kind == "soft" and self.breaks_here(index, sep):
            self.newline(self.align[-1])
        else:
            self.line += " " * sep.width
        self.must_break = False
        self.emit_token(piece)

    def breaks_here(self, index: int, sep: _Sep) -> bool:
        """Whether the list whose item starts at ``index`` breaks before it."""
        if index not in self.plan:
            self.plan.update(self.plan_list(index, sep.depth))
        return self.plan.get(index, False)

    def plan_list(self, first: int, depth: int) -> dict[int, bool]:
        """Where to break the rest of the list from its second item on.

        The items go on as few lines as fit in ``WIDTH`` (each line after
        the first starting at the list's alignment), and of those layouts the
        one whose longest line is shortest: so the lines come out balanced.
        A list with a comment inside breaks where its items do not fit.
        """
        starts, widths = [first], [0]
        for number in range(first, len(self.pieces)):
            piece = self.pieces[number]
            if number > first:
                if piece.sep.kind == "line" or piece.leading:
                    break
                if piece.sep.kind == "soft" and piece.sep.depth < depth:
                    break
                if piece.sep.kind == "soft" and piece.sep.depth == depth:
                    starts.append(number)
                    widths.append(0)
                else:
                    widths[-1] += piece.sep.width
            widths[-1] += len(str(piece.token))
            if piece.trailing:
                if any(c.is_line for c in piece.trailing):
                    return {first: self.greedy(first, depth)}
                break
        return self.balance(starts, widths)

    def balance(self, starts: list[int], widths: list[int]) -> dict[int, bool]:
        """Break before the fewest items, then make the longest line shortest.

        ``best[m]`` is the best layout of the first ``m`` items as (new lines,
        longest line, index of the item that starts the last line or None if
        they all stay on the current line).
        """
        column, align = len(self.line), self.align[-1]
        plan = dict.fromkeys(starts, False)
        if column <= align:
            return plan
        best: list[tuple[int, int, int | None] | None] = [(0, column, None)]
        for m in range(1, len(widths) + 1):
            options = []
            reach = column + sum(1 + w for w in widths[:m])
            if reach <= WIDTH:
                options.append((0, reach, None))
            for i in range(m):
                if best[i] is None:
                    continue
                reach = align + widths[i] + sum(1 + w for w in widths[i + 1 : m])
                if reach <= WIDTH or i == m - 1:
                    lines, longest, _ = best[i]
                    options.append((lines + 1, max(longest, reach), i))
            best.append(min(options, key=lambda o: o[:2]) if options else None)
        m = len(widths)
        while m > 0 and best[m] is not None and best[m][2] is not None:
            plan[starts[best[m][2]]] = True
            m = best[m][2]
        return plan

    def greedy(self, index: int, depth: int) -> bool:
        column = len(self.line)
        if column <= self.align[-1]:
            return False
        width = 0
        for number in range(index, len(self.pieces)):
            piece = self.pieces[number]
            if number > index:
                if piece.sep.kind == "line" or piece.leading:
                    break
                if piece.sep.kind == "soft" and piece.sep.depth <= depth:
                    break
                width += piece.sep.width
            width += len(str(piece.token))
            if piece.trailing:
                break
        return column + 1 + width > WIDTH

    def emit_token(self, piece: _Piece) -> None:
        token = str(piece.token)
        self.line += token
        self.at_block_start = token == "{"
        if token in _OPENING:
            self.align.append(len(self.line))
        elif token in _CLOSING and len(self.align) > 1:
            self.align.pop()
        for comment in piece.trailing:
            self.line += "  " if comment.is_line else " "
            self.emit_comment(comment)
            if comment.is_line:
                self.must_break = True

    def emit_comment(self, comment: _Comment) -> None:
        text = str(comment.token)
        first, *rest = text.split("\n")
        shift = len(self.line) - (comment.token.column - 1)
        self.line += first.rstrip()
        for line in rest:
            self.lines.append(self.line.rstrip())
            self.line = _shift(line, shift)


def _shift(line: str, shift: int) -> str:
    if shift >= 0:
        return (" " * shift + line).rstrip() if line.strip() else ""
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, -shift) :].rstrip()


def _layout(text: str) -> str:
    tree, comments = _lossless().parse(text)
    pieces, blocks = _flatten(tree)
    _pair_seps(pieces)
    _statement_seps(pieces, blocks, [c.start_pos for c in comments])
    pieces = _drop_semicolons(pieces)
    _attach_comments(pieces, comments, text)
    return _Printer(pieces).run()
