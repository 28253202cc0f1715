"""Syntax highlighting: the Pygments lexer and the TextMate grammar.

Both read their words from ``mcdl.tools.vocabulary``; the first tests check
that those are the grammar's keywords and units, so that a keyword added to
``grammar/mcdl.lark`` must be added there too.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

import pytest
from pygments.token import Comment, Error, Keyword, Name, Number, String

from mcdl.tools import textmate, vocabulary
from mcdl.tools.lexer import MCDLLexer

from .helpers import ROOT, SPECS, STDLIB

TMLANGUAGE = ROOT / "editors" / "vscode" / "syntaxes" / "mcdl.tmLanguage.json"
SAMPLE = """\
// a line comment
/* a block
   comment */
import "std/microcircuit.mcdl"
const g0 = 1.5e-1
function f(u) = tanh(u)
rule r(eta) { dw = eta * phi(post.soma) * pre.rate }
neuron P(g = g0) {
    compartment soma { leak = g }
    compartment basal dendrite
    couple basal -> soma g = 2
    rate = soft_relu(soma, gamma = 1)
}
network n {
    dt = 0.1 ms
    input x[9]
    layer out { pyr: P[3] }
    project x -> out.pyr.basal as W { init uniform(-1, 1, seed = 1) one_to_one }
    nudge out.pyr.soma from target g = 0.8 conductance(E_exc = 1, E_inh = 0)
    protocol { pattern = 2 s  phase task { learn W } }
    loihi { pin W range = 2  epoch = 10 }
}
"""


def test_the_vocabulary_has_exactly_the_grammars_keywords_and_units() -> None:
    keywords, units = vocabulary.grammar_keywords()

    assert set(vocabulary.KEYWORDS) == keywords
    assert len(vocabulary.KEYWORDS) == len(keywords)
    assert set(vocabulary.UNITS) == units


def test_the_vocabulary_has_the_compilers_initialisers() -> None:
    from mcdl.passes.shapes import INITIALISERS

    assert set(vocabulary.INITIALISERS) == set(INITIALISERS)


# -- Pygments -------------------------------------------------------------------


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in MCDLLexer().get_tokens(text) if v.strip()]


def kind_of(text: str, word: str) -> object:
    """The token type of the first token ``word`` in ``text``."""
    return next(t for t, v in tokens(text) if v == word)


@pytest.mark.parametrize("path", SPECS + STDLIB, ids=lambda p: p.name)
def test_lexing_a_spec_gives_no_error_tokens(path: Path) -> None:
    found = [(t, v) for t, v in tokens(path.read_text()) if t in Error]

    assert found == []


def test_lexing_the_sample_gives_no_error_tokens_and_keeps_the_text() -> None:
    lexed = list(MCDLLexer().get_tokens(SAMPLE))

    assert not [v for t, v in lexed if t in Error]
    assert "".join(v for _, v in lexed) == SAMPLE


@pytest.mark.parametrize("word", vocabulary.KEYWORDS)
def test_every_keyword_is_a_keyword_in_the_sample(word: str) -> None:
    assert word in SAMPLE
    assert kind_of(SAMPLE, word) in Keyword


def test_token_types_of_numbers_units_comments_strings_and_names() -> None:
    assert kind_of(SAMPLE, "0.1") is Number.Float
    assert kind_of(SAMPLE, "1.5e-1") is Number.Float
    assert kind_of(SAMPLE, "9") is Number.Integer
    assert kind_of(SAMPLE, "ms") is Keyword.Type
    assert kind_of(SAMPLE, "s") is Keyword.Type
    assert kind_of(SAMPLE, "// a line comment") is Comment.Single
    assert kind_of(SAMPLE, "std/microcircuit.mcdl") is String.Double
    assert kind_of(SAMPLE, "P") is Name.Class
    assert kind_of(SAMPLE, "soft_relu") is Name.Builtin
    assert kind_of(SAMPLE, "uniform") is Name.Builtin
    assert kind_of(SAMPLE, "leak") is Name.Attribute
    assert all(t in Comment.Multiline for t, v in tokens("/* a\n b */"))


def test_contextual_keywords_are_names_elsewhere() -> None:
    assert kind_of("couple dendrite -> soma g = 1", "dendrite") is Name
    assert kind_of("const target_high = 1", "target_high") is Name.Attribute
    assert kind_of("seconds = 1 ms", "seconds") is Name.Attribute


def test_the_lexer_is_registered_as_a_pygments_plugin() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()

    assert '[project.entry-points."pygments.lexers"]' in pyproject
    assert 'mcdl = "mcdl.tools.lexer:MCDLLexer"' in pyproject
    try:
        points = metadata.entry_points(group="pygments.lexers")
    except metadata.PackageNotFoundError:  # pragma: no cover
        pytest.skip("mcdl is not installed")
    names = {p.name: p.value for p in points}
    if "mcdl" not in names:
        pytest.skip("mcdl is not installed with its entry points (pip install -e .)")
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename

    assert isinstance(get_lexer_by_name("mcdl"), MCDLLexer)
    assert isinstance(get_lexer_for_filename("bars.mcdl"), MCDLLexer)


# -- TextMate -------------------------------------------------------------------


def committed() -> dict:
    return json.loads(TMLANGUAGE.read_text(encoding="utf-8"))


def test_the_committed_grammar_is_the_generated_one() -> None:
    assert TMLANGUAGE.read_text(encoding="utf-8") == textmate.text(), (
        "regenerate it: python -m mcdl.tools.textmate " + str(TMLANGUAGE)
    )


def patterns(grammar: dict) -> list[dict]:
    """Every pattern of ``grammar``, includes resolved, in TextMate's order."""
    found: list[dict] = []

    def walk(items: list[dict]) -> None:
        for item in items:
            if "include" in item:
                walk(grammar["repository"][item["include"][1:]]["patterns"])
            else:
                found.append(item)

    walk(grammar["patterns"])
    return found


def test_every_regex_of_the_grammar_compiles() -> None:
    regexes = []
    for pattern in patterns(committed()):
        regexes += [pattern[k] for k in ("match", "begin", "end") if k in pattern]
        for inner in pattern.get("patterns", []):
            regexes.append(inner["match"])

    assert regexes
    for regex in regexes:
        re.compile(regex, re.M)


def scopes(text: str) -> list[tuple[str, str]]:
    """(text, scope) of each match, the way TextMate scans one line at a time.

    At each position the pattern whose match starts first wins, the earlier
    pattern on a tie; ``begin``/``end`` patterns span lines.
    """
    compiled = [
        (p, re.compile(p.get("match") or p["begin"], re.M))
        for p in patterns(committed())
    ]
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        best = None
        for pattern, regex in compiled:
            match = regex.search(text, position)
            if match and (best is None or match.start() < best[1].start()):
                best = (pattern, match)
        if best is None:
            break
        pattern, match = best
        end = match.end()
        if "begin" in pattern:
            close = re.compile(pattern["end"]).search(text, end)
            end = close.end() if close else len(text)
            found.append((text[match.start() : end], pattern["name"]))
        elif "captures" in pattern:
            for group, capture in pattern["captures"].items():
                if match.group(int(group)):
                    found.append((match.group(int(group)), capture["name"]))
        else:
            found.append((match.group(0), pattern["name"]))
        position = max(end, position + 1)
    return found


def scope_of(text: str, word: str) -> str:
    return next(scope for matched, scope in scopes(text) if matched == word)


@pytest.mark.parametrize("word", vocabulary.KEYWORDS)
def test_the_textmate_grammar_classifies_every_keyword(word: str) -> None:
    assert scope_of(SAMPLE, word).startswith("keyword.")


def test_the_textmate_grammar_classifies_numbers_units_comments_and_names() -> None:
    assert scope_of(SAMPLE, "0.1") == "constant.numeric.mcdl"
    assert scope_of(SAMPLE, "1.5e-1") == "constant.numeric.mcdl"
    assert scope_of(SAMPLE, "ms") == "keyword.other.unit.mcdl"
    assert scope_of(SAMPLE, "// a line comment") == "comment.line.double-slash.mcdl"
    assert scope_of(SAMPLE, "/* a block\n   comment */") == "comment.block.mcdl"
    assert scope_of(SAMPLE, '"std/microcircuit.mcdl"') == "string.quoted.double.mcdl"
    assert scope_of(SAMPLE, "P") == "entity.name.type.mcdl"
    assert scope_of(SAMPLE, "soft_relu") == "support.function.builtin.mcdl"
    assert scope_of(SAMPLE, "leak") == "variable.other.property.mcdl"


def test_the_textmate_and_pygments_keywords_are_the_vocabularys() -> None:
    keyword_regex = next(
        p["match"]
        for p in patterns(committed())
        if p.get("name") == "keyword.other.mcdl"
    )
    words = set(re.findall(r"\w+", keyword_regex.replace(r"\b", "")))
    plain = set(vocabulary.KEYWORDS) - set(vocabulary.CONTEXTUAL_KEYWORDS)

    assert words == plain
    for word in plain:
        assert kind_of(f"{word} ", word) in Keyword


def test_the_vscode_extension_points_at_the_grammar() -> None:
    package = json.loads((ROOT / "editors" / "vscode" / "package.json").read_text())
    configuration = ROOT / "editors" / "vscode" / "language-configuration.json"

    (grammar,) = package["contributes"]["grammars"]
    (language,) = package["contributes"]["languages"]
    assert (ROOT / "editors" / "vscode" / grammar["path"]).resolve() == TMLANGUAGE
    assert grammar["scopeName"] == committed()["scopeName"] == textmate.SCOPE
    assert language["extensions"] == [".mcdl"]
    assert json.loads(configuration.read_text())["comments"]["lineComment"] == "//"
