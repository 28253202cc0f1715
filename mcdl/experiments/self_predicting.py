"""Learning the self-predicting state: ``specs/self_predicting.mcdl``.

    python -m mcdl.experiments.self_predicting [--engine sim|lava]
        [--patterns N] [--every K] [--run-dir DIR] [--quiet]

The spec's first phase shows random inputs without a target while only the
lateral weights learn. Every ``every`` patterns the run measures, with the
weights of that moment:

* the relative distance of each lateral projection to its closed form
  (model.md §3, ``mcdl.experiments.common.closed_form``):
  ``|W - W*|_F / |W*|_F``, where ``W*`` follows from the fixed weights
  ``W_down`` and ``W_up`` of the layer above;
* the apical potentials: the mean of ``|v_apical|`` over every hidden
  pyramidal neuron at the end of each of 20 fixed random probe patterns,
  presented with noise and plasticity off (0 in the self-predicting state);
* how far the interneurons are from "their" upper pyramidal neurons: the
  mean ``|u_I - u_P,k+1|`` on the same probes.

The measurements are made by ``mcdl.sim`` from the weights read from the
engine, so both engines are measured by the same instrument. The random
patterns are those of the phase (``default_rng([seed, 1000 + phase])``);
they are shown in chunks with a zero target, which with teaching off (a
random phase never teaches) leaves the filtered target at its initial 0, so
the run is the phase as ``run_phase`` would show it.

Writes ``DIR/results.json`` and ``DIR/self_predicting.png``.
"""

from __future__ import annotations

import itertools
import logging
import sys
from pathlib import Path

import numpy as np

from mcdl import ir
from mcdl.experiments import common
from mcdl.sim import Recorder, Simulator

logger = logging.getLogger(__name__)

SPEC = common.SPECS / "self_predicting.mcdl"
PROBES = 20
PROBE_SEED = 2018


def lateral_pairs(network: ir.Network) -> list[tuple[str, str]]:
    """``(population, compartment)`` of every dendrite a W_PI projection reaches."""
    nudged = {n.target for n in network.nudgings if n.source}
    pairs = []
    for projection in network.projections:
        if projection.source in nudged:
            pair = (projection.target, projection.compartment)
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def measure(
    network: ir.Network,
    weights: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
    probes: np.ndarray,
) -> dict[str, float]:
    """The distances, apical potentials and interneuron errors of ``weights``."""
    result = {
        f"distance {name}": float(
            np.linalg.norm(weights[name] - star) / np.linalg.norm(star)
        )
        for name, star in targets.items()
    }
    apical = [f"{pop}.{comp}" for pop, comp in lateral_pairs(network)]
    followers = [
        (f"{n.target}.{n.compartment}", f"{n.source}.{n.source_compartment}")
        for n in network.nudgings
        if n.source
    ]
    names = apical + [name for pair in followers for name in pair]
    record = Recorder(sorted(set(names)), every="pattern")
    simulator = Simulator(network, weights=weights)
    simulator.evaluate(probes, np.zeros(len(probes), dtype=np.int64), record=record)
    arrays = record.arrays()
    result["apical"] = float(np.mean([np.abs(arrays[n]).mean() for n in apical]))
    result["interneuron error"] = float(
        np.mean([np.abs(arrays[a] - arrays[b]).mean() for a, b in followers])
    )
    return result


def random_inputs(network: ir.Network, index: int, count: int) -> np.ndarray:
    """The first ``count`` random patterns of phase ``index``, as it draws them."""
    phase = network.protocol.phases[index]
    size = network.population(network.input).size
    stream = np.random.default_rng([network.seed, 1000 + index])
    return stream.random((max(count, phase.patterns), size))[:count]


def run(
    spec: Path = SPEC,
    engine: common.Engine = common.SIM,
    patterns: int | None = None,
    every: int = 100,
    run_dir: Path | None = None,
) -> dict:
    """Run the spec's random phase and measure it; return the results."""
    network = common.load(spec)
    index, phase = common.phase_of(network, "random")
    inputs = random_inputs(network, index, patterns or phase.patterns)
    targets = np.zeros((len(inputs), network.population(network.output).size))
    probes = np.random.default_rng(PROBE_SEED).random((PROBES, inputs.shape[1]))

    curve = []
    clock = common.Stopwatch()
    with engine.open(network, spec) as net:
        start = net.weights()
        closed_form = common.closed_form(network, start)
        training = common.Training(net, index)
        chunks = training.chunks(inputs, targets, every)
        for seen in itertools.chain([0], chunks):
            row = {
                "patterns": seen,
                **measure(network, net.weights(), closed_form, probes),
            }
            logger.info(_line(row))
            curve.append(row)
    results = {
        "spec": str(spec),
        "engine": engine.label,
        "patterns": len(inputs),
        "seconds": clock(),
        **training.describe(),
        "start": curve[0],
        "end": curve[-1],
        "curve": curve,
    }

    run_dir = common.run_folder(run_dir, "self_predicting")
    common.save_run(run_dir, results, plot(results), "self_predicting")
    return results


def _line(row: dict) -> str:
    parts = [f"{row['patterns']:>6} patterns"]
    parts += [f"{key} {value:.4f}" for key, value in row.items() if key != "patterns"]
    return ", ".join(parts)


def plot(results: dict):
    """Apical potentials and weight distances against the patterns shown."""
    plt = common.pyplot()
    curve = results["curve"]
    x = [row["patterns"] for row in curve]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.semilogy(x, [row["apical"] for row in curve], label="mean |apical potential|")
    left.semilogy(
        x, [row["interneuron error"] for row in curve], label="mean |u_I - u_upper|"
    )
    left.set_xlabel("random patterns shown")
    left.set_ylabel("potential")
    left.legend()
    for key in curve[0]:
        if key.startswith("distance "):
            right.plot(x, [row[key] for row in curve], label=key[len("distance ") :])
    right.set_xlabel("random patterns shown")
    right.set_ylabel("|W - W_closed form| / |W_closed form|")
    right.set_ylim(bottom=0)
    right.legend()
    figure.suptitle(f"learning the self-predicting state ({results['engine']})")
    return figure


def summarize(results: dict) -> None:
    """Log every measurement at the start and at the end of the phase."""
    start, end = results["start"], results["end"]
    logger.info(
        "%d patterns in %.0f s (%.1f ms per pattern)",
        results["patterns"],
        results["seconds"],
        results["ms per pattern"],
    )
    for key in start:
        if key != "patterns":
            logger.info("  %s: %.4f -> %.4f", key, start[key], end[key])


def main(argv: list[str] | None = None) -> int:
    parser = common.parser(__doc__, SPEC, steady=False)
    parser.add_argument(
        "--patterns", type=int, default=None, help="random patterns shown"
    )
    parser.add_argument(
        "--every", type=int, default=100, help="patterns between measurements"
    )
    args, engine = common.parse(parser, argv, logger)
    results = run(args.spec, engine, args.patterns, args.every, args.run_dir)
    summarize(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
