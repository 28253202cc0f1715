"""The front end takes anything: hostile specs give diagnostics, in bounded time.

The strategies are those of ``hostile.py``: specs built from the grammar with
hostile names, numbers and strings, such specs mutated, and the extreme
shapes (deep nesting, long chains, long lines, control characters). Each
example must compile to located diagnostics or to a network whose package
renders as Python, within the deadline. Every input at and past a limit of
the front end runs in a process of its own, so that its time and peak memory
are its own. ``MCDL_FUZZ_EXAMPLES`` (default 150) draws more examples;
``benchmarks/fuzz.py`` is the long run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from mcdl.compiler import compile_file, compile_text

from .hostile import LIMIT_CASES, copes, extremes, mutated, programs, small

ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = int(os.environ.get("MCDL_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=30),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Seconds and megabytes (peak resident) that one input may take, with room
#: for a machine that runs other work too.
TIME_LIMIT = 60.0
MEMORY_LIMIT_MB = 600


@pytest.fixture(scope="module", autouse=True)
def warm_parser() -> None:
    compile_text("network n {}", name="warm.mcdl")


@FUZZ
@given(programs())
def test_specs_built_from_the_grammar_give_diagnostics_or_a_package(text) -> None:
    copes(text)


@FUZZ
@given(mutated())
def test_mutated_specs_give_diagnostics_or_a_package(text) -> None:
    copes(text)


@FUZZ
@given(extremes())
def test_extreme_shapes_give_diagnostics(text) -> None:
    copes(text)


def test_the_grammar_built_specs_reach_the_code_generator() -> None:
    """A fuzzer that only makes syntax errors would test the parser alone."""
    rendered = []

    @settings(max_examples=60, database=None, deadline=None, derandomize=True)
    @given(programs())
    def draw(text) -> None:
        rendered.append(copes(text).rendered)

    draw()

    assert len(rendered) == 60
    assert sum(rendered) >= len(rendered) // 6, sum(rendered)


_RUNNER = """
import json, resource, sys, time
from mcdl.compiler import compile_text
from reliability.hostile import LIMIT_CASES, copes
compile_text("network n {}", "warm.mcdl")
text, code = LIMIT_CASES[sys.argv[1]]
started = time.perf_counter()
outcome = copes(text)
print(json.dumps({
    "codes": sorted(outcome.codes),
    "seconds": time.perf_counter() - started,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(LIMIT_CASES))
def test_an_input_at_a_limit_is_one_diagnostic_in_bounded_time_and_memory(
    case: str,
) -> None:
    expected = LIMIT_CASES[case][1]

    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, case],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"},
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert expected in found["codes"], found
    assert found["seconds"] < TIME_LIMIT, found
    assert found["peak_mb"] < MEMORY_LIMIT_MB, found


def test_a_device_given_as_the_spec_is_read_only_up_to_the_limit() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("needs /dev/zero")

    result = compile_file(Path("/dev/zero"))

    assert [d.code for d in result.diagnostics] == ["E0103"]


def test_a_nul_in_an_import_path_is_e0701_not_a_traceback() -> None:
    result = compile_text('import "a\x00b.mcdl"\nnetwork n {}\n', name="nul.mcdl")

    assert "E0701" in {d.code for d in result.diagnostics}


def test_an_import_path_too_long_for_the_system_is_e0701() -> None:
    result = compile_text(f'import "{"a" * 5000}.mcdl"\nnetwork n {{}}\n')

    assert "E0701" in {d.code for d in result.diagnostics}


def test_lone_surrogates_and_bidi_controls_give_diagnostics() -> None:
    for text in ("network \ud800 {}", "network n\u202e {}", "const a\u200b = 1"):
        outcome = copes(text)

        assert outcome.codes, text


@pytest.mark.parametrize("setting", ["target_low", "target_high"])
def test_a_protocol_target_that_is_not_a_number_is_a_diagnostic(setting) -> None:
    """Found by ``benchmarks/fuzz.py``: this was a pydantic ValidationError."""
    text = small(PATTERN=f"10 ms  {setting} = import")

    assert copes(text).codes == {"E0201"}
