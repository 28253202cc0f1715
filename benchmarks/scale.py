"""Time per pattern and peak memory of large networks, on mcdl.sim and fused Lava.

    python benchmarks/scale.py [--digits N] [--mnist M] [--steady K]

Two networks, side by side in one run:

* ``digits``: ``specs/digits.mcdl`` (64-100-50-10, 30 ms patterns of 300
  steps), trained on the first images of ``mcdl.data.digits``;
* ``mnist``: the paper's MNIST network, 784-500-500-10 with logistic
  neurons (``mcdl.experiments.deep.deep_spec``), 100 ms patterns of 1000
  steps, trained on uniform random patterns (no MNIST here; the dynamics do
  not care what the pixels show).

Each is trained on ``mcdl.sim``, on the generated Lava package (fused
layout) and, for comparison, on ``mcdl.sim`` with the steady-state
approximation (``mcdl.experiments.steady``). Every measurement runs in a
fresh Python process, so that its peak resident memory is its own: for Lava
the host process and the largest of its worker processes are reported
separately (the network's state lives in the worker). Two patterns are shown
first and not timed. Times are wall-clock on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WARM_UP = 2
ENGINES = ("sim", "lava", "steady")


def network_and_data(name: str, count: int):
    """The network of ``name``, its spec file, and ``count`` training patterns."""
    from mcdl import data
    from mcdl.compiler import compile_file, compile_text
    from mcdl.experiments.deep import deep_spec

    if name == "digits":
        spec = ROOT / "specs" / "digits.mcdl"
        network = compile_file(spec).network
        train, _ = data.digits()
        inputs, labels = train.inputs, train.labels
        reps = -(-count // len(inputs))
        inputs = inputs.repeat(reps, axis=0)[:count] if reps > 1 else inputs[:count]
        labels = labels.repeat(reps)[:count] if reps > 1 else labels[:count]
        return network, spec, inputs, labels
    folder = Path(tempfile.mkdtemp(prefix="mcdl-scale-"))
    spec = folder / "mnist.mcdl"
    spec.write_text(
        deep_spec(
            (784, 500, 500, 10),
            name="mnist",
            rate="logistic",
            init_scale=4,
            feedback_scale=12,
            # Small enough that random data cannot drive the weights away
            # in a few patterns; every projection but W_down learns.
            eta_up=0.001,
            eta_lateral=0.0005,
        )
    )
    network = compile_text(spec.read_text(), path=spec).network
    patterns = data.random_patterns(count, 784, 10, seed=0)
    return network, spec, patterns.inputs, patterns.labels


def measure(name: str, engine: str, count: int) -> dict:
    """Train ``count`` (+ warm-up) patterns; return time and memory (this process)."""
    from mcdl.experiments.steady import steady_state
    from mcdl.sim import Simulator
    from mcdl.train import engines

    network, spec, inputs, labels = network_and_data(name, count + WARM_UP)
    phase = network.protocol.phases[0].name
    started = time.perf_counter()
    if engine in ("sim", "steady"):
        if engine == "steady":
            network = steady_state(network)
        simulator = Simulator(network, base_dir=spec.parent)
        built = time.perf_counter() - started
        simulator.train(inputs[:WARM_UP], labels[:WARM_UP], phase)
        timed = time.perf_counter()
        simulator.train(inputs[WARM_UP:], labels[WARM_UP:], phase)
        seconds = time.perf_counter() - timed
    else:
        with tempfile.TemporaryDirectory(prefix="mcdl-scale-") as folder:
            package = engines.build_package(network, spec, Path(folder), "fused")
            module = engines.load_package(package)
            with module.Network() as net:
                built = time.perf_counter() - started
                net.train(inputs[:WARM_UP], labels[:WARM_UP], phase=phase)
                timed = time.perf_counter()
                net.train(inputs[WARM_UP:], labels[WARM_UP:], phase=phase)
                seconds = time.perf_counter() - timed
    steps = round(network.protocol.pattern / network.dt)
    return {
        "network": name,
        "engine": engine,
        "patterns": count,
        "steps per pattern": steps,
        "ms per pattern": 1e3 * seconds / count,
        "setup seconds": built,
        "host peak MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker peak MB": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=200, help="digits patterns")
    parser.add_argument("--mnist", type=int, default=3, help="784-500-500-10 patterns")
    parser.add_argument(
        "--steady", type=int, default=20, help="784-500-500-10 patterns, steady state"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the rows")
    parser.add_argument("--one", nargs=3, metavar=("NETWORK", "ENGINE", "N"))
    args = parser.parse_args(argv)
    if args.one:
        name, engine, count = args.one
        print(json.dumps(measure(name, engine, int(count))))
        return 0

    plan = [("digits", engine, args.digits) for engine in ENGINES]
    plan += [("mnist", "sim", args.mnist), ("mnist", "lava", args.mnist)]
    plan += [("mnist", "steady", args.steady)]
    rows = []
    for name, engine, count in plan:
        print(f"{name} on {engine}: {count} patterns ...", file=sys.stderr, flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--one", name, engine, str(count)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))

    labels = {"sim": "mcdl.sim", "lava": "Lava fused", "steady": "mcdl.sim, steady"}
    header = (
        f"{'network':<8}{'engine':<18}{'patterns':>9}{'steps':>7}{'ms/pattern':>12}"
        f"{'vs sim':>8}{'setup s':>9}{'host MB':>9}{'worker MB':>10}"
    )
    print(header)
    for row in rows:
        sim = next(
            r for r in rows if r["network"] == row["network"] and r["engine"] == "sim"
        )
        worker = f"{row['worker peak MB']:.0f}" if row["engine"] == "lava" else "-"
        print(
            f"{row['network']:<8}{labels[row['engine']]:<18}{row['patterns']:>9}"
            f"{row['steps per pattern']:>7}{row['ms per pattern']:>12.1f}"
            f"{row['ms per pattern'] / sim['ms per pattern']:>7.2f}x"
            f"{row['setup seconds']:>9.1f}{row['host peak MB']:>9.0f}{worker:>10}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
