"""How the time of ``mcdlc check`` grows with the size of a spec.

Prints the in-process parse-and-check time (the median of several runs, after
one warm-up run that builds the parser) of ``specs/bars.mcdl`` and of generated
specs whose hidden layers form a chain of 10, 100 and 1000 layers, with the
time per layer. Each generated layer is one of bars' hidden layer: pyramidal
neurons and interneurons, four projections (two self-predicting) and the
interneurons' nudging, so the time per layer should stay flat.

Run from the checkout root:

    python benchmarks/check_scaling.py            # the table
    python benchmarks/check_scaling.py --phases   # also time each stage

Exits 1 if bars takes 20 ms or more.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcdl import ir  # noqa: E402
from mcdl.compiler import compile_text  # noqa: E402
from mcdl.frontend import imports  # noqa: E402
from mcdl.passes.derive import derive  # noqa: E402
from mcdl.passes.resolve import resolve  # noqa: E402

BARS = ROOT / "specs" / "bars.mcdl"
BARS_BUDGET_MS = 20.0
LAYERS = (10, 100, 1000)
SIZE = 4


def chain_spec(layers: int) -> str:
    """A valid bars-like spec with ``layers`` hidden layers in a chain."""
    out = ['import "std/microcircuit.mcdl"', "", f"network chain{layers} {{"]
    out += ["    dt = 0.1 ms", "    const g_som = 0.8", f"    input pixels[{SIZE}]"]
    for k in range(1, layers + 1):
        out.append(
            f"    layer h{k} {{ pyr: Pyramidal[{SIZE}]  inter: Interneuron[{SIZE}] }}"
        )
    out.append(f"    layer output {{ pyr: OutputPyramidal[{SIZE}] }}")
    plastic = []
    for k in range(1, layers + 2):
        below = "pixels" if k == 1 else f"h{k - 1}.pyr"
        above = "output.pyr" if k == layers + 1 else f"h{k}.pyr"
        out += [
            f"    project {below} -> {above}.basal as W_up{k} {{",
            f"        init uniform(-1, 1, seed = {k})",
            "        learn dendritic_prediction(eta = 0.01)",
            "    }",
        ]
        plastic.append(f"W_up{k}")
    for k in range(1, layers + 1):
        above = "output.pyr" if k == layers else f"h{k + 1}.pyr"
        out += [
            f"    project {above} -> h{k}.pyr.apical as W_down{k} {{",
            f"        init uniform(-1, 1, seed = {layers + k + 1})",
            "    }",
            f"    project h{k}.pyr -> h{k}.inter.dendrite as W_IP{k} {{",
            "        init self_predicting()",
            "        learn dendritic_prediction(eta = 0.02)",
            "    }",
            f"    project h{k}.inter -> h{k}.pyr.apical as W_PI{k} {{",
            "        init self_predicting()",
            "        learn apical_to_rest(eta = 0.02)",
            "    }",
            f"    nudge h{k}.inter.soma from {above}.soma g = g_som",
        ]
        plastic += [f"W_IP{k}", f"W_PI{k}"]
    out += [
        "    nudge output.pyr.soma from target g = g_som",
        "    protocol {",
        "        pattern = 100 ms",
        "        readout = 20 ms",
        "        phase task {",
        "            epochs = 1",
        "            learn " + ", ".join(plastic),
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(out) + "\n"


def check(text: str, name: str) -> ir.Network:
    """Parse and check ``text``; raise if it is not a valid spec."""
    result = compile_text(text, name=name, path=ROOT / name)
    if not result.ok:
        lines = [f"  {d.span}: {d.code} {d.message}" for d in result.diagnostics]
        shown = "\n".join(lines)
        raise SystemExit(f"{name} does not check:\n{shown}")
    return result.network


def median_ms(action, runs: int) -> float:
    """The median wall time of ``action()`` over ``runs`` runs, in ms."""
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(1e3 * (time.perf_counter() - started))
    return statistics.median(times)


def check_ms(text: str, name: str, runs: int) -> float:
    """The median time of parsing and checking ``text``, in ms."""
    return median_ms(functools.partial(compile_text, text, name, ROOT / name), runs)


def phases_ms(text: str, name: str, runs: int) -> dict[str, float]:
    """The median time of loading (parse), resolving and deriving ``text``."""
    loaded = imports.load_text(text, name, ROOT / name)
    scope, _ = resolve(loaded.modules)
    main = loaded.sources[name]
    source = ir.SourceInfo(span=loaded.main.span, file=name, sha256=main.sha256)
    return {
        "parse": median_ms(lambda: imports.load_text(text, name, ROOT / name), runs),
        "resolve": median_ms(lambda: resolve(loaded.modules), runs),
        "derive": median_ms(lambda: derive(scope, source), runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", action="store_true", help="time each stage")
    args = parser.parse_args(argv)

    cases = [("bars.mcdl", None, BARS.read_text(encoding="utf-8"))]
    cases += [(f"chain{n}.mcdl", n, chain_spec(n)) for n in LAYERS]
    header = f"{'spec':<16}{'layers':>7}{'lines':>8}{'median ms':>12}{'ms/layer':>10}"
    if args.phases:
        header += f"{'parse':>9}{'resolve':>9}{'derive':>9}"
    print(header)
    bars_ms = 0.0
    per_layer_ms = {}
    for name, layers, text in cases:
        check(text, name)
        runs = 3 if layers and layers >= 1000 else 11
        ms = check_ms(text, name, runs)
        per_layer = f"{ms / layers:10.3f}" if layers else f"{'':>10}"
        row = f"{name:<16}{layers or 1:>7}{text.count(chr(10)):>8}{ms:12.2f}{per_layer}"
        if args.phases:
            stages = phases_ms(text, name, runs)
            row += "".join(f"{stages[k]:9.2f}" for k in ("parse", "resolve", "derive"))
        print(row)
        if layers is None:
            bars_ms = ms
        else:
            per_layer_ms[layers] = ms / layers
    # The smallest chain is dominated by fixed costs (the standard library).
    small, large = sorted(per_layer_ms)[-2:]
    ratio = per_layer_ms[large] / per_layer_ms[small]
    print(f"time per layer at {large} layers / at {small}: {ratio:.2f} (1 is linear)")
    if bars_ms >= BARS_BUDGET_MS:
        print(f"bars takes {bars_ms:.1f} ms, over the {BARS_BUDGET_MS:g} ms budget")
        return 1
    print(f"bars checks in {bars_ms:.1f} ms (budget {BARS_BUDGET_MS:g} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
