"""A Pygments lexer for MCDL: ``pygmentize -l mcdl spec.mcdl``.

Registered in the ``pygments.lexers`` entry-point group (pyproject.toml), so
Pygments and the tools built on it (Sphinx, MkDocs, ``pygmentize``) find it
once mcdl is installed. The token types:

* keywords (``vocabulary.KEYWORDS``): ``Keyword``; ``dendrite`` only after
  ``compartment NAME`` and ``target`` only after ``from``;
* a declared name after ``neuron`` (``Name.Class``), ``function`` and
  ``rule`` (``Name.Function``), ``network`` and ``layer``
  (``Name.Namespace``), and a setting's or keyword argument's name before
  ``=`` (``Name.Attribute``);
* numbers: ``Number.Integer`` or ``Number.Float``; a unit after a number
  (``0.1 ms``): ``Keyword.Type``, as Pygments' CSS lexer marks units;
* built-in functions and initialisers before ``(``: ``Name.Builtin``; the
  names of rules (``pre``, ``post``, ``w``, ``phi``): ``Name.Builtin.Pseudo``;
* comments: ``Comment.Single`` and ``Comment.Multiline``; strings:
  ``String.Double`` with ``String.Escape``.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from mcdl.tools import vocabulary as v

_NAME = v.NAME
_UNIT = r"(?:" + "|".join(v.UNITS) + r")\b"
_PLAIN_KEYWORDS = tuple(k for k in v.KEYWORDS if k not in v.CONTEXTUAL_KEYWORDS)


class MCDLLexer(RegexLexer):
    """Lexer for MCDL, the network description language of mcdl."""

    name = "MCDL"
    aliases = ["mcdl"]
    filenames = ["*.mcdl"]
    mimetypes = ["text/x-mcdl"]

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"//[^\n]*", Comment.Single),
            (r"/\*", Comment.Multiline, "block-comment"),
            (r'"', String.Double, "string"),
            (
                rf"(compartment)(\s+)({_NAME})(\s+)(dendrite)\b",
                bygroups(Keyword, Whitespace, Name.Variable, Whitespace, Keyword),
            ),
            (r"(from)(\s+)(target)\b", bygroups(Keyword, Whitespace, Keyword)),
            (
                rf"(neuron)(\s+)({_NAME})",
                bygroups(Keyword, Whitespace, Name.Class),
            ),
            (
                rf"(function|rule)(\s+)({_NAME})",
                bygroups(Keyword, Whitespace, Name.Function),
            ),
            (
                rf"(network|layer)(\s+)({_NAME})",
                bygroups(Keyword, Whitespace, Name.Namespace),
            ),
            (rf"{_NAME}(?=\s*=(?!=))", Name.Attribute),
            (words(_PLAIN_KEYWORDS, suffix=r"\b"), Keyword),
            (
                rf"(\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?"
                rf"|\d+[eE][+-]?\d+)(\s*)({_UNIT})?",
                bygroups(Number.Float, Whitespace, Keyword.Type),
            ),
            (
                rf"(\d+)(\s*)({_UNIT})?",
                bygroups(Number.Integer, Whitespace, Keyword.Type),
            ),
            (
                words(v.BUILTIN_FUNCTIONS + v.INITIALISERS, suffix=r"\b(?=\s*\()"),
                Name.Builtin,
            ),
            (words(v.RULE_NAMES, suffix=r"\b"), Name.Builtin.Pseudo),
            (_NAME, Name),
            (r"->|\*\*|[-+*/=]", Operator),
            (r"[{}()\[\],.:;]", Punctuation),
        ],
        "block-comment": [
            (r"[^*]+", Comment.Multiline),
            (r"\*/", Comment.Multiline, "#pop"),
            (r"\*", Comment.Multiline),
        ],
        "string": [
            (r'[^"\\\n]+', String.Double),
            (r"\\.", String.Escape),
            (r'"', String.Double, "#pop"),
        ],
    }
