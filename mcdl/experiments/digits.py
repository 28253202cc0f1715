"""Two hidden layers on scikit-learn's 8x8 digits: ``specs/digits.mcdl``.

    python -m mcdl.experiments.digits [--engine sim|lava] [--steady]
        [--epochs N] [--run-dir DIR] [--no-mlp] [--limit N] [--quiet]

Trains the spec's 64-100-50-10 microcircuit on the fixed split of
``mcdl.data.digits`` (seed 0: 1438 training, 359 test images), evaluates
the test accuracy after every epoch, and trains on the same split an MLP of
the same sizes by backprop (``sklearn.neural_network.MLPClassifier``,
logistic units like the microcircuit's, Adam, ``random_state = 0``; a ReLU
MLP for reference).

``--steady`` trains with the steady-state approximation
(``mcdl.experiments.steady``); the weights it learns are then evaluated
once more with the full dynamics of the spec (noise off, as every
evaluation), so that both numbers are reported. Writes
``DIR/results.json``, ``DIR/weights.npz`` and ``DIR/digits.png``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

from mcdl import data, ir
from mcdl.experiments import common

logger = logging.getLogger(__name__)

SPEC = common.SPECS / "digits.mcdl"


def hidden_sizes(network: ir.Network) -> tuple[int, ...]:
    """The sizes of the pyramidal populations below the output, bottom up."""
    nudged = {n.target for n in network.nudgings if n.source is not None}
    return tuple(
        p.size
        for p in network.populations
        if not p.is_input and p.name != network.output and p.name not in nudged
    )


def mlp_baselines(
    sizes: tuple[int, ...], train, test, max_iter: int = 2000
) -> dict[str, dict]:
    """Test accuracy of MLPs of hidden ``sizes`` trained by backprop."""
    from sklearn.neural_network import MLPClassifier

    results = {}
    for activation in ("logistic", "relu"):
        clock = common.Stopwatch()
        model = MLPClassifier(
            hidden_layer_sizes=sizes,
            activation=activation,
            max_iter=max_iter,
            random_state=0,
        )
        model.fit(train.inputs, train.labels)
        results[activation] = {
            "test accuracy": float(model.score(test.inputs, test.labels)),
            "train accuracy": float(model.score(train.inputs, train.labels)),
            "epochs": int(model.n_iter_),
            "seconds": clock(),
        }
    return results


def evaluate_epoch(
    net, test: data.Dataset, epoch: int, clock: common.Stopwatch
) -> dict:
    """The test accuracy and loss of the open engine ``net`` after ``epoch``."""
    result = net.evaluate(test.inputs, test.labels)
    row = {
        "epoch": epoch,
        "test accuracy": float(result.accuracy),
        "test loss": float(result.loss),
        "seconds": clock(),
    }
    logger.info(
        "epoch %3d: test accuracy %.1f %%, loss %.4f, %.0f s",
        epoch,
        100 * row["test accuracy"],
        row["test loss"],
        row["seconds"],
    )
    return row


def evaluate_full(
    network: ir.Network,
    spec: Path,
    weights: dict,
    test: data.Dataset,
    engine: common.Engine,
) -> dict:
    """Loss and accuracy of ``weights`` under the spec's full dynamics."""
    clock = common.Stopwatch()
    with engine.full().open(network, spec, weights) as net:
        result = net.evaluate(test.inputs, test.labels)
    return {
        "test accuracy": float(result.accuracy),
        "test loss": float(result.loss),
        "seconds": clock(),
    }


def first_images(dataset: data.Dataset, limit: int | None) -> data.Dataset:
    """The first ``limit`` images of ``dataset`` (all of them for ``None``)."""
    if limit is None:
        return dataset
    return data.Dataset(dataset.inputs[:limit], dataset.labels[:limit], dataset.classes)


def run(
    spec: Path = SPEC,
    engine: common.Engine = common.SIM,
    epochs: int | None = None,
    run_dir: Path | None = None,
    mlp: bool = True,
    limit: int | None = None,
) -> dict:
    """Train the microcircuit (and the MLPs); return the results.

    ``limit`` keeps only the first images of the training and test sets (for
    a quick look; the results are then not those of the task).
    """
    network = common.load(spec)
    index, phase = common.phase_of(network, "data")
    epochs = epochs or phase.epochs or 1
    train, test = (first_images(images, limit) for images in data.digits())

    clock = common.Stopwatch()
    curve = []
    with engine.open(network, spec) as net:
        training = common.Training(net, index)
        for seen in training.chunks(train.inputs, train.labels, epochs=epochs):
            curve.append(evaluate_epoch(net, test, seen // len(train.inputs), clock))
        train_result = net.evaluate(train.inputs, train.labels)
        weights = net.weights()

    results = {
        "spec": str(spec),
        **engine.describe(),
        "split": {"train": len(train.inputs), "test": len(test.inputs), "seed": 0},
        "epochs": epochs,
        **training.describe(),
        "final": curve[-1],
        "best": max(curve, key=lambda row: row["test accuracy"]),
        "train accuracy": float(train_result.accuracy),
        "curve": curve,
    }
    if engine.steady:
        results["full dynamics evaluation"] = evaluate_full(
            network, spec, weights, test, engine
        )
    if mlp:
        results["mlp"] = mlp_baselines(hidden_sizes(network), train, test)
    results["seconds"] = clock()

    run_dir = common.run_folder(run_dir, "digits", engine)
    run_dir.mkdir(parents=True, exist_ok=True)
    np.savez(run_dir / "weights.npz", **weights)
    common.save_run(run_dir, results, plot(results), "digits")
    return results


def plot(results: dict):
    """Test accuracy per epoch, with the backprop MLP's as a line."""
    plt = common.pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 4))
    curve = results["curve"]
    axis.plot(
        [row["epoch"] for row in curve],
        [100 * row["test accuracy"] for row in curve],
        marker=".",
        label=f"microcircuit ({results['dynamics']})",
    )
    for activation, mlp in results.get("mlp", {}).items():
        axis.axhline(
            100 * mlp["test accuracy"],
            linestyle="--" if activation == "logistic" else ":",
            color="grey",
            label=f"MLP, backprop, {activation}",
        )
    full = results.get("full dynamics evaluation")
    if full:
        axis.plot(
            [curve[-1]["epoch"]],
            [100 * full["test accuracy"]],
            marker="*",
            markersize=12,
            linestyle="none",
            label="its weights under the full dynamics",
        )
    axis.set_xlabel(f"epoch ({results['split']['train']} training images)")
    axis.set_ylabel("test accuracy (%)")
    axis.set_ylim(80, 100)
    axis.legend(loc="lower right")
    axis.set_title(f"8x8 digits, {results['engine']}")
    return figure


def summarize(results: dict) -> None:
    """Log the test accuracies of the microcircuit and of the MLPs."""
    final, best = results["final"], results["best"]
    logger.info(
        "%s dynamics on %s: %d epochs, %.1f ms per pattern, %.0f s in all",
        results["dynamics"],
        results["engine"],
        results["epochs"],
        results["ms per pattern"],
        results["seconds"],
    )
    logger.info(
        "  microcircuit: test accuracy %.1f %% (best %.1f %% after epoch %d), "
        "train %.1f %%",
        100 * final["test accuracy"],
        100 * best["test accuracy"],
        best["epoch"],
        100 * results["train accuracy"],
    )
    full = results.get("full dynamics evaluation")
    if full:
        logger.info(
            "  the same weights, full dynamics: %.1f %%", 100 * full["test accuracy"]
        )
    for activation, mlp in results.get("mlp", {}).items():
        logger.info(
            "  MLP (%s, backprop): test accuracy %.1f %% after %d epochs",
            activation,
            100 * mlp["test accuracy"],
            mlp["epochs"],
        )


def main(argv: list[str] | None = None) -> int:
    parser = common.parser(__doc__, SPEC)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--no-mlp", action="store_true", help="no backprop baseline")
    parser.add_argument(
        "--limit", type=int, default=None, help="only the first N images of each set"
    )
    args, engine = common.parse(parser, argv, logger)
    results = run(
        args.spec, engine, args.epochs, args.run_dir, not args.no_mlp, args.limit
    )
    summarize(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
