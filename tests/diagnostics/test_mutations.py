"""Broken versions of a valid spec give located diagnostics, never a traceback.

Starting from ``specs/bars.mcdl``, each test breaks the spec in one way --
cut it short, delete a line, rename one occurrence of a name -- and runs
``mcdlc check`` on the result. The outcome must be one of two:

* the compiler reports diagnostics: the exit code is 1 and standard error
  shows at least one ``path:line:col: error[CODE]`` inside the file;
* the compiler reports nothing (the mutation left a valid spec, as deleting a
  comment does): the exit code is 0.

Cutting at a line and deleting a line are tried for every line; the other
mutations and the fuzzing of the front end with random tokens and random
bytes are drawn by hypothesis, with a bounded number of examples and a
deadline per example (generous, so that a loaded machine does not fail it,
but short enough to catch a hang), so the whole file runs in well under a
minute. Set
``MCDL_FUZZ_EXAMPLES`` (default 150) to draw more examples when hunting bugs.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcdl import cli
from mcdl.compiler import compile_file, compile_text
from mcdl.frontend.parser import _parser

ROOT = Path(__file__).resolve().parents[2]
BARS = ROOT / "specs" / "bars.mcdl"
TEXT = BARS.read_text(encoding="utf-8")
LINES = TEXT.splitlines(keepends=True)

_LOCATED = re.compile(r"^(.+\.mcdl):(\d+):(\d+): error\[E\d{4}\]: ", re.M)

FUZZ = settings(
    max_examples=int(os.environ.get("MCDL_FUZZ_EXAMPLES", "150")),
    deadline=timedelta(seconds=20),
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module", autouse=True)
def warm_parser() -> None:
    """Build the parser once, so that no example pays for it."""
    compile_text(TEXT, name="bars.mcdl", path=BARS)


def check_cli(text: str) -> tuple[int, str, list]:
    """Write ``text`` to a spec file, run ``mcdlc check`` and compile it.

    Returns the exit code, standard error and the diagnostics.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutant.mcdl"
        path.write_text(text, encoding="utf-8")
        stderr = io.StringIO()
        with (
            contextlib.redirect_stderr(stderr),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            status = cli.main(["check", str(path)])
        diagnostics = compile_file(path).diagnostics
    return status, stderr.getvalue(), diagnostics


def assert_located_or_valid(text: str) -> None:
    status, stderr, diagnostics = check_cli(text)

    assert "Traceback" not in stderr
    if not diagnostics:
        assert status == cli.EXIT_OK, stderr
        return
    assert status == cli.EXIT_SPEC
    located = _LOCATED.findall(stderr)
    assert located, stderr
    lines = text.split("\n")
    for path, row, column in located:
        if path.endswith("mutant.mcdl"):
            assert 1 <= int(row) <= len(lines)
            assert 1 <= int(column) <= len(lines[int(row) - 1]) + 1


def test_bars_itself_is_valid() -> None:
    status, stderr, diagnostics = check_cli(TEXT)

    assert (status, diagnostics) == (cli.EXIT_OK, [])


@pytest.mark.parametrize("keep", range(len(LINES)), ids=lambda k: f"first-{k}-lines")
def test_cutting_bars_after_any_line(keep: int) -> None:
    assert_located_or_valid("".join(LINES[:keep]))


@pytest.mark.parametrize("drop", range(len(LINES)), ids=lambda k: f"line-{k + 1}")
def test_deleting_any_one_line_of_bars(drop: int) -> None:
    assert_located_or_valid("".join(LINES[:drop] + LINES[drop + 1 :]))


@FUZZ
@given(st.integers(min_value=0, max_value=len(TEXT)))
def test_cutting_bars_at_any_character(cut: int) -> None:
    assert_located_or_valid(TEXT[:cut])


def _renameable() -> list:
    """Every occurrence of a name that bars.mcdl uses more than once."""
    names = [token for token in _parser().lex(TEXT) if token.type == "NAME"]
    counts = Counter(str(token) for token in names)
    return [token for token in names if counts[str(token)] > 1]


RENAMEABLE = _renameable()
NEW_NAMES = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,8}\Z")


def test_bars_has_names_to_rename() -> None:
    assert {"pyr", "soma", "W_up2", "g_som", "hidden"} <= {str(t) for t in RENAMEABLE}


@FUZZ
@given(st.sampled_from(RENAMEABLE), NEW_NAMES)
def test_renaming_one_occurrence_of_a_name(token, new: str) -> None:
    text = TEXT[: token.start_pos] + new + TEXT[token.end_pos :]

    assert_located_or_valid(text)


@FUZZ
@given(st.sampled_from(RENAMEABLE))
def test_misspelling_one_occurrence_of_a_name_is_an_error(token) -> None:
    text = TEXT[: token.start_pos] + str(token) + "x" + TEXT[token.end_pos :]
    status, stderr, diagnostics = check_cli(text)

    if TEXT[: token.start_pos].rstrip().endswith("network"):
        assert status == cli.EXIT_OK, "a network's name is free to choose"
        return
    assert status == cli.EXIT_SPEC
    assert _LOCATED.search(stderr)


# -- Fuzzing the front end ----------------------------------------------------

_KEYWORDS = (
    "import const neuron function rule network compartment dendrite couple input "
    "layer project as init learn one_to_one nudge from target conductance protocol "
    "phase"
).split()
_PUNCTUATION = "{ } ( ) [ ] , ; : = -> . + - * / **".split()
_ATOMS = (
    "a soma basal pyr hidden x N pre post rate w phi relu soft_relu eta g "
    '1 0.5 1e3 10 ms 2 s "std/microcircuit.mcdl" "w.npy" // /* */ \n'
).split(" ")
_BARS_TOKENS = [str(token) for token in _parser().lex(TEXT)]
TOKENS = st.sampled_from(_KEYWORDS + _PUNCTUATION + _ATOMS + _BARS_TOKENS)


def assert_front_end_copes(text: str) -> None:
    """Compiling ``text`` returns; every diagnostic points inside the text."""
    result = compile_text(text, name="fuzz.mcdl")
    lines = text.split("\n")
    for diagnostic in result.diagnostics:
        span = diagnostic.span
        if span.path == "fuzz.mcdl":
            assert 1 <= span.line <= len(lines), diagnostic
            assert 1 <= span.column <= len(lines[span.line - 1]) + 1, diagnostic
    assert result.ok == (result.diagnostics == [])


@FUZZ
@given(st.lists(TOKENS, max_size=80), st.sampled_from([" ", "\n", ""]))
def test_random_tokens(tokens: list[str], separator: str) -> None:
    assert_front_end_copes(separator.join(tokens))


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(_BARS_TOKENS)), st.integers(0, 3), TOKENS),
        min_size=1,
        max_size=4,
    )
)
def test_bars_with_random_token_edits(edits) -> None:
    tokens = list(_BARS_TOKENS)
    for where, remove, token in edits:
        tokens[where : where + remove] = [token]

    assert_front_end_copes(" ".join(tokens))


# Form feeds, lone carriage returns and the other characters that
# str.splitlines() treats as line breaks are blanked here: the front end
# counts lines differently with them (see test_known_bugs.py).
_LINE_BREAKS = re.compile(rb"[\r\x0b\x0c\x1c-\x1e\x85]|\xe2\x80[\xa8\xa9]")
_BYTES = st.binary(max_size=300).map(lambda raw: _LINE_BREAKS.sub(b" ", raw))


def assert_bytes_cope(raw: bytes) -> None:
    """Compiling a file of ``raw`` bytes returns located diagnostics or a network."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.mcdl"
        path.write_bytes(raw)

        result = compile_file(path, name="fuzz.mcdl")

    assert result.ok == (result.diagnostics == [])
    codes = {d.code for d in result.diagnostics}
    if codes & {"E0103", "E0106"}:
        assert len(result.diagnostics) == 1
        return
    assert_front_end_copes(raw.decode("utf-8"))


@FUZZ
@given(_BYTES)
def test_random_bytes(raw: bytes) -> None:
    assert_bytes_cope(raw)


@FUZZ
@given(st.integers(0, len(TEXT)), st.integers(0, 8), _BYTES)
def test_bars_with_random_bytes_spliced_in(where: int, remove: int, raw: bytes) -> None:
    data = TEXT.encode("utf-8")

    assert_bytes_cope(data[:where] + raw + data[where + remove :])
