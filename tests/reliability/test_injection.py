"""Generated code cannot be hijacked by a spec.

A spec shared by someone else is compiled into Python that the recipient
imports. Names reach that code only as checked identifiers, strings only as
quoted literals, expressions only through the printer. Each test writes a
spec that tries to smuggle code in (a name, a string with quotes and new
lines, a number with trailing code, a file name) and checks that the build
refuses it with a diagnostic, or that the package holds none of it: every
file parses, no string of the payload appears in the Python files, and
importing the package in a fresh process runs nothing of it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcdl.build import build, render_checked, spec_weights
from mcdl.compiler import compile_file, compile_text

from .hostile import small

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = 'open("PWNED", "w")'
"""What an injection would run: it leaves a file behind."""


def built(tmp_path: Path, text: str, name: str = "spec.mcdl", **options) -> Path:
    """Build ``text`` as ``name`` in ``tmp_path``; return the package folder."""
    spec = tmp_path / name
    spec.write_text(text, encoding="utf-8")
    result = build(spec, tmp_path / "out", **options)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.package


def assert_holds_no(package: Path, *fragments: str) -> None:
    """Every Python file parses, and none holds any of ``fragments``."""
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        ast.parse(text, filename=str(path))
        for fragment in fragments:
            assert fragment not in text, f"{fragment!r} reached {path.name}"


def import_in_a_fresh_process(package: Path) -> None:
    """Import the package and its modules; nothing may leave a file behind."""
    code = (
        "import importlib, sys; sys.path.insert(0, sys.argv[1]); "
        "package = importlib.import_module(sys.argv[2]); "
        "importlib.import_module(sys.argv[2] + '.models')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(package.parent), package.name],
        cwd=package.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert not (package.parent / "PWNED").exists()


def codes(text: str) -> set[str]:
    return {d.code for d in compile_text(text, name="inject.mcdl").diagnostics}


# -- Names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "class",
        "__import__",
        "_x",
        "__init__",
        "schicht_ü",
        "ａｂｃ",
        "numpy",
        "lava",
        "json",
        "os",
        "mcdl",
    ],
)
def test_a_network_name_that_is_no_plain_identifier_or_shadows_a_module_is_e0105(
    name: str,
) -> None:
    assert "E0105" in codes(small().replace("network n", f"network {name}"))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("input x[1]", "input async[1]"),
        ("layer out", "layer def"),
        ("{ pyr: N[1] }", "{ __class__: N[1] }"),
        ("compartment soma", "compartment lambda"),
        ("as W", "as None"),
    ],
)
def test_keywords_and_dunders_cannot_name_what_reaches_code(old, new) -> None:
    text = small().replace(old, new)
    if old.startswith("input"):
        text = text.replace("project x ->", "project async ->")
    assert "E0105" in codes(text)


def test_two_populations_that_would_share_an_identifier_are_e0105() -> None:
    text = small().replace(
        "layer out { pyr: N[1] }",
        "layer out { pyr: N[1] }\n    layer a_b { c: N[1] }\n    layer a { b_c: N[1] }",
    )

    assert "E0105" in codes(text)


def test_two_layers_that_would_share_a_class_are_e0105() -> None:
    text = small().replace(
        "layer out { pyr: N[1] }",
        "layer out { pyr: N[1] }\n    layer h_1 { p: N[1] }\n    layer h1 { p: N[1] }",
    )

    assert "E0105" in codes(text)


def test_a_name_only_the_code_generator_finds_clashing_is_e0105_not_a_traceback(
    tmp_path: Path,
) -> None:
    """Names longer than 20 characters become positions: a short one can clash."""
    long = "a_population_name_longer_than_twenty"
    text = small().replace(
        "layer out { pyr: N[1] }",
        f"layer out {{ pyr: N[1] }}\n    layer p1 {{ {long}: N[1] }}",
    )
    text = text.replace("input x[1]", "input p2[1]").replace("project x", "project p2")
    spec = tmp_path / "clash.mcdl"
    spec.write_text(text, encoding="utf-8")
    result = compile_file(spec)
    assert result.ok
    weights, _ = spec_weights(result.network, spec)

    files, problems = render_checked(result.network, weights)

    assert files is None
    assert [d.code for d in problems] == ["E0105"]


# -- Strings, numbers and file names -------------------------------------------


def mcdl_string(value: str) -> str:
    """``value`` as an MCDL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_a_string_with_quotes_reaches_no_code(tmp_path: Path) -> None:
    import numpy as np

    value = f'w"); {PAYLOAD} #""".npy'
    np.save(tmp_path / value, np.zeros((1, 1)))
    text = small().replace("as W", f"as W {{ init file({mcdl_string(value)}) }}")

    package = built(tmp_path, text)

    assert_holds_no(package, PAYLOAD, "PWNED")
    import_in_a_fresh_process(package)


def test_a_string_cannot_hold_a_new_line() -> None:
    text = small().replace("as W", 'as W { init file("w.npy\n") }')

    assert codes(text) == {"E0101"}


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("1; " + PAYLOAD, "E0101"),
        ("1 #" + PAYLOAD, "E0101"),
        ("1e3" + PAYLOAD, "E0101"),
        ("0x1F", "E0101"),
        ("1_000", "E0101"),
        ("1j", "E0101"),
        ("1e1000", "E0404"),
    ],
)
def test_a_number_with_trailing_code_is_a_diagnostic(number: str, code: str) -> None:
    """With its unit, so that only the number can be what is refused."""
    assert codes(small(DT=f"{number} ms")) == {code}


def test_numbers_reach_code_as_their_float_repr(tmp_path: Path) -> None:
    text = small(DT="0.1000000000000000055511151231257827 ms")

    package = built(tmp_path, text)

    assert "DT = 0.1\n" in (package / "process.py").read_text(encoding="utf-8")


def test_a_spec_file_name_cannot_end_a_docstring(tmp_path: Path) -> None:
    name = f'x``"""\n{PAYLOAD}\n"""\\.mcdl'

    package = built(tmp_path, small(), name=name)

    assert_holds_no(package, PAYLOAD)
    init = (package / "__init__.py").read_text(encoding="utf-8")
    assert "from ``x___" in init
    assert "from ``x``" not in init
    import_in_a_fresh_process(package)


def test_phase_names_in_unicode_reach_code_as_ascii_literals(tmp_path: Path) -> None:
    text = small(PHASE="phase übung { epochs = 1 }")

    package = built(tmp_path, text)

    network = (package / "network.py").read_text(encoding="utf-8")
    assert 'name="\\u00fcbung"' in network
    for path in package.rglob("*.py"):
        assert path.read_text(encoding="utf-8").isascii(), path.name
