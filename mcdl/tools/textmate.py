"""The TextMate grammar of MCDL, for VS Code and other editors.

``editors/vscode/syntaxes/mcdl.tmLanguage.json`` is generated from this
module, which reads the word lists of ``mcdl.tools.vocabulary``; after a
change to either, regenerate it with

    python -m mcdl.tools.textmate editors/vscode/syntaxes/mcdl.tmLanguage.json

(a test checks that the committed file is what this module generates). The
scopes follow the usual TextMate names, so that any colour theme applies: the
same classification as the Pygments lexer (``mcdl.tools.lexer``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mcdl.tools import vocabulary as v

SCOPE = "source.mcdl"


def _words(names: tuple[str, ...]) -> str:
    return "|".join(names)


def grammar() -> dict:
    """The TextMate grammar as JSON-ready data."""
    name = v.NAME
    unit = _words(v.UNITS)
    plain = tuple(k for k in v.KEYWORDS if k not in v.CONTEXTUAL_KEYWORDS)
    functions = _words(v.BUILTIN_FUNCTIONS + v.INITIALISERS)
    return {
        "name": "MCDL",
        "scopeName": SCOPE,
        "fileTypes": ["mcdl"],
        "patterns": [
            {"include": "#comments"},
            {"include": "#strings"},
            {"include": "#declarations"},
            {"include": "#settings"},
            {"include": "#keywords"},
            {"include": "#numbers"},
            {"include": "#names"},
            {"include": "#operators"},
        ],
        "repository": {
            "comments": {
                "patterns": [
                    {"name": "comment.line.double-slash.mcdl", "match": r"//.*$"},
                    {
                        "name": "comment.block.mcdl",
                        "begin": r"/\*",
                        "end": r"\*/",
                    },
                ]
            },
            "strings": {
                "patterns": [
                    {
                        "name": "string.quoted.double.mcdl",
                        "begin": '"',
                        "end": '"',
                        "patterns": [
                            {"name": "constant.character.escape.mcdl", "match": r"\\."}
                        ],
                    }
                ]
            },
            "declarations": {
                "patterns": [
                    {
                        "match": rf"\b(compartment)\s+({name})\s+(dendrite)\b",
                        "captures": {
                            "1": {"name": "keyword.other.mcdl"},
                            "2": {"name": "variable.other.compartment.mcdl"},
                            "3": {"name": "keyword.other.mcdl"},
                        },
                    },
                    {
                        "match": r"\b(from)\s+(target)\b",
                        "captures": {
                            "1": {"name": "keyword.other.mcdl"},
                            "2": {"name": "keyword.other.mcdl"},
                        },
                    },
                    {
                        "match": rf"\b(neuron)\s+({name})",
                        "captures": {
                            "1": {"name": "keyword.other.mcdl"},
                            "2": {"name": "entity.name.type.mcdl"},
                        },
                    },
                    {
                        "match": rf"\b(function|rule)\s+({name})",
                        "captures": {
                            "1": {"name": "keyword.other.mcdl"},
                            "2": {"name": "entity.name.function.mcdl"},
                        },
                    },
                    {
                        "match": rf"\b(network|layer)\s+({name})",
                        "captures": {
                            "1": {"name": "keyword.other.mcdl"},
                            "2": {"name": "entity.name.namespace.mcdl"},
                        },
                    },
                ]
            },
            "settings": {
                "patterns": [
                    {
                        "name": "variable.other.property.mcdl",
                        "match": rf"\b{name}(?=\s*=)",
                    }
                ]
            },
            "keywords": {
                "patterns": [
                    {"name": "keyword.other.mcdl", "match": rf"\b(?:{_words(plain)})\b"}
                ]
            },
            "numbers": {
                "patterns": [
                    {
                        "match": rf"(?<![\w.])({v.NUMBER})(?:\s*\b({unit})\b)?",
                        "captures": {
                            "1": {"name": "constant.numeric.mcdl"},
                            "2": {"name": "keyword.other.unit.mcdl"},
                        },
                    }
                ]
            },
            "names": {
                "patterns": [
                    {
                        "name": "support.function.builtin.mcdl",
                        "match": rf"\b(?:{functions})\b(?=\s*\()",
                    },
                    {
                        "name": "variable.language.mcdl",
                        "match": rf"\b(?:{_words(v.RULE_NAMES)})\b",
                    },
                ]
            },
            "operators": {
                "patterns": [
                    {"name": "keyword.operator.mcdl", "match": r"->|\*\*|[-+*/=]"},
                    {"name": "punctuation.separator.mcdl", "match": r"[,;:.]"},
                ]
            },
        },
    }


def text() -> str:
    """The grammar as the JSON text of the committed file."""
    return json.dumps(grammar(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the grammar to the file named in ``argv`` (standard output if none)."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stdout.write(text())
        return 0
    Path(args[0]).write_text(text(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
