"""The nonlinear regression of the paper's Fig. 2: ``specs/regression.mcdl``.

    python -m mcdl.experiments.regression [--engine sim|lava] [--steady]
        [--epochs N] [--every K] [--run-dir DIR]

A 30-20-10 teacher (``mcdl.data.regression``) sets the targets; the spec's
30-50-10 student microcircuit learns them, and so does a *shallow learner*:
the same network from the same initial weights with its hidden layer's
bottom-up weights ``W_up1`` frozen. Only the output layer then learns the
task; the lateral weights keep learning as in the microcircuit, so that the
interneurons go on cancelling the feedback and the frozen hidden layer
stays a fixed random feature layer at validation.

The output is nudged toward the teacher's output potentials (see
``mcdl.data.regression``). The validation error is measured in rates, as
the task is posed: the mean over validation patterns and output neurons of
``(phi(u_out) - r_tgt)^2``, with ``u_out`` the read-out (the output soma's
mean over the last 10 ms, free, noise and plasticity off) and ``phi`` the
output's transfer function (the teacher's). The mean squared error of the
potentials is recorded too. Predicting 0 everywhere gives a rate error of
``mean(r_tgt^2)``, recorded as ``zero baseline``.

``--steady`` runs the steady-state approximation (``mcdl.experiments.
steady``) instead of the full dynamics. Writes ``DIR/results.json`` and
``DIR/regression.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mcdl import data, ir
from mcdl.experiments import common
from mcdl.experiments.steady import steady_state
from mcdl.sim.expr import evaluate

SPEC = common.SPECS / "regression.mcdl"
FROZEN = ("W_up1",)
"""What the shallow learner does not learn: the hidden layer's input weights."""


def output_rate(network: ir.Network, potentials: np.ndarray) -> np.ndarray:
    """The output population's rate at read-out potentials ``potentials``."""
    output = network.population(network.output)
    nudged = next(n.compartment for n in network.nudgings if n.source is None)
    return np.asarray(evaluate(output.rate, {nudged: potentials}), dtype=np.float64)


def learners(network: ir.Network, phase: str) -> dict[str, ir.Network]:
    """The microcircuit and the shallow learner, as two networks."""
    chosen = network.protocol.phases[common.phase_index(network, phase)]
    shallow = tuple(name for name in chosen.learn if name not in FROZEN)
    return {
        "microcircuit": network,
        "shallow": common.with_phases(network, **{phase: {"learn": shallow}}),
    }


def train_one(
    network: ir.Network,
    spec: Path,
    engine: str,
    layout: str,
    phase: str,
    train_set: data.Dataset,
    validation: data.Dataset,
    rates: np.ndarray,
    epochs: int,
    every: int,
    label: str,
    quiet: bool,
) -> dict:
    """Train one learner, validating every ``every`` patterns."""
    index = common.phase_index(network, phase)
    count = len(train_set.inputs)
    curve = []
    training = 0.0

    def validate(net, seen: int) -> None:
        readouts = common.readouts(net, validation.inputs)
        error = float(np.mean((output_rate(network, readouts) - rates) ** 2))
        potentials = float(np.mean((readouts - validation.labels) ** 2))
        curve.append(
            {"patterns": seen, "rate error": error, "potential mse": potentials}
        )
        if not quiet:
            print(
                f"{label:>12} {seen:>7} patterns: rate error {error:.5f}, "
                f"potential MSE {potentials:.3f}",
                flush=True,
            )

    with common.engine(network, spec, engine, layout) as net:
        validate(net, 0)
        for epoch in range(epochs):
            for first in range(0, count, every):
                stop = min(count, first + every)
                lap = common.Stopwatch()
                net.train(
                    train_set.inputs[first:stop],
                    train_set.labels[first:stop],
                    phase=index,
                )
                training += lap()
                validate(net, epoch * count + stop)
    return {
        "curve": curve,
        "final": curve[-1],
        "best": min(curve, key=lambda row: row["rate error"]),
        "training seconds": training,
        "ms per pattern": 1e3 * training / (epochs * count),
    }


def run(
    spec: Path = SPEC,
    engine: str = "sim",
    layout: str = "fused",
    steady: bool = False,
    epochs: int | None = None,
    every: int = 500,
    run_dir: Path | None = None,
    which: tuple[str, ...] = ("microcircuit", "shallow"),
    train_size: int = 2000,
    validation_size: int = 200,
    quiet: bool = False,
) -> dict:
    """Train the microcircuit and the shallow learner; return the results."""
    network = common.load(spec)
    phase = next(p for p in network.protocol.phases if p.input == "data")
    epochs = epochs or phase.epochs or 1
    train_set, validation = data.regression(train_size, validation_size)
    rates = data.teacher().rates(validation.inputs)
    clock = common.Stopwatch()
    results = {
        "spec": str(spec),
        "engine": engine if engine == "sim" else f"lava ({layout})",
        "dynamics": "steady-state approximation" if steady else "full",
        "epochs": epochs,
        "training patterns": len(train_set.inputs),
        "validation patterns": len(validation.inputs),
        "zero baseline": float(np.mean(rates**2)),
        "learners": {},
    }
    for label, learner in learners(network, phase.name).items():
        if label not in which:
            continue
        if steady:
            learner = steady_state(learner)
        results["learners"][label] = train_one(
            learner,
            spec,
            engine,
            layout,
            phase.name,
            train_set,
            validation,
            rates,
            epochs,
            every,
            label,
            quiet,
        )
    results["seconds"] = clock()
    run_dir = run_dir or Path("runs") / (
        "regression-steady" if steady else "regression"
    )
    common.save_json(run_dir / "results.json", results)
    plot(results, run_dir / "regression.png")
    return results


def plot(results: dict, path: Path) -> None:
    """Validation rate error of both learners against the patterns shown."""
    plt = common.pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 4))
    for label, learner in results["learners"].items():
        curve = learner["curve"]
        axis.semilogy(
            [row["patterns"] for row in curve],
            [row["rate error"] for row in curve],
            label=label,
        )
    axis.axhline(
        results["zero baseline"], color="grey", linestyle=":", label="predict 0"
    )
    axis.set_xlabel("training patterns shown")
    axis.set_ylabel("validation error: mean (r - r_tgt)^2")
    axis.legend()
    axis.set_title(
        f"nonlinear regression, {results['engine']}, {results['dynamics']} dynamics"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--engine", choices=("sim", "lava"), default="sim")
    parser.add_argument("--layout", choices=("fused", "layered"), default="fused")
    parser.add_argument("--steady", action="store_true")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument(
        "--learners", default="microcircuit,shallow", help="comma-separated"
    )
    parser.add_argument("--train", type=int, default=2000, help="training patterns")
    parser.add_argument("--validation", type=int, default=200)
    args = parser.parse_args(argv)
    results = run(
        args.spec,
        args.engine,
        args.layout,
        args.steady,
        args.epochs,
        args.every,
        args.run_dir,
        tuple(args.learners.split(",")),
        args.train,
        args.validation,
    )
    print(
        f"{results['dynamics']} dynamics on {results['engine']}, "
        f"{results['epochs']} epochs of {results['training patterns']} patterns, "
        f"{results['seconds']:.0f} s; predicting 0: {results['zero baseline']:.5f}"
    )
    for label, learner in results["learners"].items():
        print(
            f"  {label}: validation rate error {learner['final']['rate error']:.5f} "
            f"(best {learner['best']['rate error']:.5f}), "
            f"{learner['ms per pattern']:.1f} ms per pattern"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
