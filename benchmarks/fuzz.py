"""The long run of the front end's fuzzing: many hostile specs, timed.

The test suite draws a few hundred hostile inputs (``tests/reliability/``,
``tests/diagnostics/test_mutations.py``); this draws as many as asked from
the same strategies and reports, per strategy, how many inputs were tried,
how many compiled and rendered into packages, which diagnostics they gave
and how long the longest took. Then it runs every input of
``LIMIT_CASES`` (at and past each limit of the front end) in a process of its
own and reports its time and peak memory. Any input that gives anything but
diagnostics (an exception, a diagnostic outside the text, a rendered file
that is not Python) stops the run with the input, shrunk by hypothesis.

Run from the checkout root:

    python benchmarks/fuzz.py                      # 2000 inputs per strategy
    python benchmarks/fuzz.py --examples 20000 --json fuzz.json
    python benchmarks/fuzz.py --no-limits          # skip the limit cases

Exits 1 if an input was not handled, or took longer than ``--budget``
seconds (default 10).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from reliability.hostile import (  # noqa: E402
    LIMIT_CASES,
    copes,
    extremes,
    mutated,
    programs,
)

from mcdl.compiler import compile_text  # noqa: E402


def _mutation_strategies() -> dict[str, st.SearchStrategy]:
    """The strategies of ``tests/diagnostics/test_mutations.py``, as texts."""
    from diagnostics import test_mutations as m

    def spliced(edit) -> str:
        where, remove, raw = edit
        data = m.TEXT.encode("utf-8")
        return (data[:where] + raw + data[where + remove :]).decode("utf-8", "replace")

    def edited(edits) -> str:
        tokens = list(m._BARS_TOKENS)
        for where, remove, token in edits:
            tokens[where : where + remove] = [token]
        return " ".join(tokens)

    return {
        "random tokens": st.tuples(
            st.lists(m.TOKENS, max_size=80), st.sampled_from([" ", "\n", ""])
        ).map(lambda pair: pair[1].join(pair[0])),
        "bars with token edits": st.lists(
            st.tuples(st.integers(0, len(m._BARS_TOKENS)), st.integers(0, 3), m.TOKENS),
            min_size=1,
            max_size=4,
        ).map(edited),
        "random bytes": m._BYTES.map(lambda raw: raw.decode("utf-8", "replace")),
        "bars with bytes spliced": st.tuples(
            st.integers(0, len(m.TEXT)), st.integers(0, 8), m._BYTES
        ).map(spliced),
    }


def strategies() -> dict[str, st.SearchStrategy]:
    return {
        "grammar-built programs": programs(),
        "mutated programs": mutated(),
        "extremes": extremes(),
        **_mutation_strategies(),
    }


def fuzz(name: str, strategy: st.SearchStrategy, examples: int, number: int) -> dict:
    """Draw ``examples`` inputs from ``strategy``; return the figures."""
    figures = {
        "strategy": name,
        "inputs": 0,
        "compiled": 0,
        "rendered": 0,
        "longest_s": 0.0,
        "codes": Counter(),
    }

    @seed(number)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(text: str) -> None:
        outcome = copes(text)
        figures["inputs"] += 1
        figures["compiled"] += outcome.compiled
        figures["rendered"] += outcome.rendered
        figures["longest_s"] = max(figures["longest_s"], outcome.seconds)
        figures["codes"].update(outcome.codes)

    run()
    figures["codes"] = dict(figures["codes"].most_common())
    return figures


_LIMIT_RUNNER = """
import json, resource, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from mcdl.compiler import compile_text
from reliability.hostile import LIMIT_CASES, copes
compile_text("network n {{}}", "warm.mcdl")
text, code = LIMIT_CASES[sys.argv[1]]
started = time.perf_counter()
outcome = copes(text)
print(json.dumps({{
    "case": sys.argv[1],
    "expected": code,
    "codes": sorted(outcome.codes),
    "seconds": round(time.perf_counter() - started, 3),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
}}))
"""


def limits() -> list[dict]:
    """Run each limit case in a fresh process; its time and peak memory."""
    runner = _LIMIT_RUNNER.format(root=str(ROOT), tests=str(ROOT / "tests"))
    results = []
    for case in LIMIT_CASES:
        proc = subprocess.run(
            [sys.executable, "-c", runner, case],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"limit case {case!r} failed:\n{proc.stderr}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="per strategy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per input")
    parser.add_argument("--json", type=Path, default=None, help="write the figures")
    parser.add_argument("--no-limits", action="store_true")
    args = parser.parse_args()

    compile_text("network n {}", "warm.mcdl")
    started = time.perf_counter()
    report = {"fuzz": [], "limits": []}
    print(f"{'strategy':<26} {'inputs':>7} {'compiled':>9} {'rendered':>9} longest")
    for name, strategy in strategies().items():
        figures = fuzz(name, strategy, args.examples, args.seed)
        report["fuzz"].append(figures)
        print(
            f"{name:<26} {figures['inputs']:>7} {figures['compiled']:>9} "
            f"{figures['rendered']:>9} {figures['longest_s']:.3f} s",
            flush=True,
        )
    total = sum(f["inputs"] for f in report["fuzz"])
    longest = max(f["longest_s"] for f in report["fuzz"])
    print(f"{'all':<26} {total:>7}   longest {longest:.3f} s")
    if not args.no_limits:
        print(f"\n{'limit case':<44} {'code':<6} {'seconds':>8} {'peak MB':>8}")
        for result in limits():
            report["limits"].append(result)
            verdict = "" if result["expected"] in result["codes"] else "  WRONG CODE"
            print(
                f"{result['case']:<44} {result['expected']:<6} "
                f"{result['seconds']:>8.2f} {result['peak_mb']:>8}{verdict}",
                flush=True,
            )
    report["total_inputs"] = total
    report["longest_s"] = longest
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print(f"\n{total} inputs in {report['wall_s']} s")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    slow = [r for r in report["limits"] if r["seconds"] > args.budget]
    wrong = [r for r in report["limits"] if r["expected"] not in r["codes"]]
    if longest > args.budget or slow or wrong:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
