"""The nonlinear regression of the paper's Fig. 2: ``specs/regression.mcdl``.

    python -m mcdl.experiments.regression [--engine sim|lava] [--steady]
        [--epochs N] [--every K] [--run-dir DIR] [--learners A,B]
        [--train N] [--validation N] [--quiet]

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

import itertools
import logging
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mcdl import data, ir
from mcdl.experiments import common
from mcdl.sim.expr import evaluate

logger = logging.getLogger(__name__)

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


class Task(NamedTuple):
    """The regression task: training patterns, validation patterns, their rates."""

    train: data.Dataset
    validation: data.Dataset
    rates: np.ndarray
    """The teacher's output rates on the validation inputs."""


def validate(network: ir.Network, net, task: Task, patterns: int) -> dict:
    """The validation errors of the open engine ``net`` after ``patterns``."""
    readouts = common.readouts(net, task.validation.inputs)
    error = np.mean((output_rate(network, readouts) - task.rates) ** 2)
    potentials = np.mean((readouts - task.validation.labels) ** 2)
    return {
        "patterns": patterns,
        "rate error": float(error),
        "potential mse": float(potentials),
    }


def train_one(
    network: ir.Network,
    label: str,
    spec: Path,
    engine: common.Engine,
    task: Task,
    epochs: int,
    every: int,
) -> dict:
    """Train the learner ``label``, validating every ``every`` patterns."""
    index, _ = common.phase_of(network, "data")
    curve = []
    with engine.open(network, spec) as net:
        training = common.Training(net, index)
        chunks = training.chunks(task.train.inputs, task.train.labels, every, epochs)
        for seen in itertools.chain([0], chunks):
            row = validate(network, net, task, seen)
            logger.info(
                "%12s %7d patterns: rate error %.5f, potential MSE %.3f",
                label,
                seen,
                row["rate error"],
                row["potential mse"],
            )
            curve.append(row)
    return {
        "curve": curve,
        "final": curve[-1],
        "best": min(curve, key=lambda row: row["rate error"]),
        **training.describe(),
    }


def run(
    spec: Path = SPEC,
    engine: common.Engine = common.SIM,
    epochs: int | None = None,
    every: int = 500,
    run_dir: Path | None = None,
    which: tuple[str, ...] = ("microcircuit", "shallow"),
    train_size: int = 2000,
    validation_size: int = 200,
) -> dict:
    """Train the microcircuit and the shallow learner; return the results."""
    network = common.load(spec)
    _, phase = common.phase_of(network, "data")
    epochs = epochs or phase.epochs or 1
    train, validation = data.regression(train_size, validation_size)
    task = Task(train, validation, data.teacher().rates(validation.inputs))

    clock = common.Stopwatch()
    results = {
        "spec": str(spec),
        **engine.describe(),
        "epochs": epochs,
        "training patterns": len(train.inputs),
        "validation patterns": len(validation.inputs),
        "zero baseline": float(np.mean(task.rates**2)),
        "learners": {
            label: train_one(learner, label, spec, engine, task, epochs, every)
            for label, learner in learners(network, phase.name).items()
            if label in which
        },
    }
    results["seconds"] = clock()

    run_dir = common.run_folder(run_dir, "regression", engine)
    common.save_run(run_dir, results, plot(results), "regression")
    return results


def plot(results: dict):
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
    return figure


def summarize(results: dict) -> None:
    """Log the final validation error of every learner."""
    logger.info(
        "%s dynamics on %s, %d epochs of %d patterns, %.0f s; predicting 0: %.5f",
        results["dynamics"],
        results["engine"],
        results["epochs"],
        results["training patterns"],
        results["seconds"],
        results["zero baseline"],
    )
    for label, learner in results["learners"].items():
        logger.info(
            "  %s: validation rate error %.5f (best %.5f), %.1f ms per pattern",
            label,
            learner["final"]["rate error"],
            learner["best"]["rate error"],
            learner["ms per pattern"],
        )


def main(argv: list[str] | None = None) -> int:
    parser = common.parser(__doc__, SPEC)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument(
        "--every", type=int, default=500, help="patterns between validations"
    )
    parser.add_argument(
        "--learners", default="microcircuit,shallow", help="comma-separated"
    )
    parser.add_argument("--train", type=int, default=2000, help="training patterns")
    parser.add_argument(
        "--validation", type=int, default=200, help="validation patterns"
    )
    args, engine = common.parse(parser, argv, logger)
    results = run(
        args.spec,
        engine,
        args.epochs,
        args.every,
        args.run_dir,
        tuple(args.learners.split(",")),
        args.train,
        args.validation,
    )
    summarize(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
