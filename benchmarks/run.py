"""Time bars training per pattern on every target and engine, side by side.

    python benchmarks/run.py [--patterns N] [--layered-patterns M]
                             [--fixed-patterns F] [--chip-patterns C]

Every engine trains the same spec from the same initial weights on the same
patterns in one run of this script, and the script prints the time per
pattern of each and the ratios to ``mcdl.sim``: the CPU target's Lava
layouts, and the loihi target's integer reference ``mcdl.sim.fixed`` and
its two Lava packages (fused, and chip-mapped with Lava's ``Dense`` and
``LearningDense``). The layered layouts pay Lava's per-process toll at every
time step and ``mcdl.sim.fixed`` is written for clarity, not speed, so they
are timed on fewer patterns. Times are wall-clock on a shared machine:
compare the ratios of one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcdl import data  # noqa: E402
from mcdl.compiler import compile_file  # noqa: E402
from mcdl.sim import Simulator  # noqa: E402
from mcdl.sim.fixed import FixedSimulator  # noqa: E402
from mcdl.train import engines  # noqa: E402


def time_sim(network, spec, inputs, labels) -> float:
    simulator = Simulator(network, base_dir=spec.parent)
    simulator.train(inputs[:2], labels[:2], "task")
    simulator = Simulator(network, base_dir=spec.parent)
    started = time.perf_counter()
    simulator.train(inputs, labels, "task")
    return (time.perf_counter() - started) / len(inputs)


def time_fixed(network, inputs, labels) -> float:
    simulator = FixedSimulator(network)
    simulator.train(inputs[:2], labels[:2], "task")
    simulator = FixedSimulator(network)
    started = time.perf_counter()
    simulator.train(inputs, labels, "task")
    return (time.perf_counter() - started) / len(inputs)


def time_lava(
    network, spec, inputs, labels, layout: str, out: Path, target: str = "cpu"
) -> float:
    folder = out / target / layout
    package = engines.build_package(network, spec, folder, layout, target)
    module = engines.load_package(package)
    with module.Network() as net:
        net.train(inputs[:2], labels[:2], phase="task")
        started = time.perf_counter()
        net.train(inputs, labels, phase="task")
        return (time.perf_counter() - started) / len(inputs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "specs" / "bars.mcdl")
    parser.add_argument("--patterns", type=int, default=150)
    parser.add_argument("--layered-patterns", type=int, default=5)
    parser.add_argument("--fixed-patterns", type=int, default=20)
    parser.add_argument("--chip-patterns", type=int, default=3)
    args = parser.parse_args(argv)

    result = compile_file(args.spec)
    if not result.ok:
        for diagnostic in result.diagnostics:
            print(diagnostic.message, file=sys.stderr)
        return 1
    network = result.network
    train_set = data.bars()
    inputs = train_set.inputs[: args.patterns]
    labels = train_set.labels[: args.patterns]

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        sim = time_sim(network, args.spec, inputs, labels)
        rows.append(("cpu", "mcdl.sim", len(inputs), sim))
        fused = time_lava(network, args.spec, inputs, labels, "fused", out)
        rows.append(("cpu", "Lava fused", len(inputs), fused))
        few = args.layered_patterns
        layered = time_lava(
            network, args.spec, inputs[:few], labels[:few], "layered", out
        )
        rows.append(("cpu", "Lava layered", few, layered))
        few = args.fixed_patterns
        fixed = time_fixed(network, inputs[:few], labels[:few])
        rows.append(("loihi", "mcdl.sim.fixed", few, fixed))
        loihi = time_lava(network, args.spec, inputs, labels, "fused", out, "loihi")
        rows.append(("loihi", "Lava fused", len(inputs), loihi))
        few = args.chip_patterns
        chip = time_lava(
            network, args.spec, inputs[:few], labels[:few], "layered", out, "loihi"
        )
        rows.append(("loihi", "Lava layered", few, chip))

    protocol = network.protocol
    print(f"bars training, {protocol.pattern:g} ms patterns, dt {network.dt:g} ms")
    print("(the slow rows are timed on fewer patterns: see the patterns column)")
    print(f"{'target':<7}{'engine':<16}{'patterns':>9}{'ms/pattern':>12}{'vs sim':>9}")
    for target, name, count, seconds in rows:
        print(
            f"{target:<7}{name:<16}{count:>9}{1e3 * seconds:>12.1f}"
            f"{seconds / sim:>8.2f}x"
        )
    print(f"goal: Lava fused within 1.5x of mcdl.sim: {fused / sim:.2f}x")
    print(f"loihi: Lava fused {loihi / fixed:.2f}x the time of mcdl.sim.fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
