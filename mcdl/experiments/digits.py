"""Two hidden layers on scikit-learn's 8x8 digits: ``specs/digits.mcdl``.

    python -m mcdl.experiments.digits [--engine sim|lava] [--steady]
        [--epochs N] [--run-dir DIR] [--no-mlp]

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

import argparse
import sys
from pathlib import Path

import numpy as np

from mcdl import data, ir
from mcdl.experiments import common
from mcdl.experiments.steady import steady_state

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


def evaluate_full(
    network: ir.Network, spec: Path, weights: dict, test, engine: str, layout: str
) -> dict:
    """Loss and accuracy of ``weights`` under the spec's full dynamics."""
    clock = common.Stopwatch()
    with common.engine(network, spec, engine, layout, weights) as net:
        result = net.evaluate(test.inputs, test.labels)
    return {
        "test accuracy": float(result.accuracy),
        "test loss": float(result.loss),
        "seconds": clock(),
    }


def run(
    spec: Path = SPEC,
    engine: str = "sim",
    layout: str = "fused",
    steady: bool = False,
    epochs: int | None = None,
    run_dir: Path | None = None,
    mlp: bool = True,
    quiet: bool = False,
    limit: int | None = None,
) -> dict:
    """Train the microcircuit (and the MLPs); return the results.

    ``limit`` keeps only the first images of the training and test sets (for
    a quick look; the results are then not those of the task).
    """
    network = common.load(spec)
    index, phase = next(
        (i, p) for i, p in enumerate(network.protocol.phases) if p.input == "data"
    )
    epochs = epochs or phase.epochs or 1
    train, test = data.digits()
    if limit is not None:
        train, test = (
            data.Dataset(*(a[:limit] for a in s[:2]), 10) for s in (train, test)
        )
    trained = steady_state(network) if steady else network
    clock = common.Stopwatch()
    curve = []
    training = 0.0
    with common.engine(trained, spec, engine, layout) as net:
        for epoch in range(1, epochs + 1):
            lap = common.Stopwatch()
            net.train(train.inputs, train.labels, phase=index)
            training += lap()
            result = net.evaluate(test.inputs, test.labels)
            row = {
                "epoch": epoch,
                "test accuracy": float(result.accuracy),
                "test loss": float(result.loss),
                "seconds": clock(),
            }
            curve.append(row)
            if not quiet:
                accuracy = 100 * row["test accuracy"]
                print(
                    f"epoch {epoch:>3}: test accuracy {accuracy:.1f} %, "
                    f"loss {row['test loss']:.4f}, {row['seconds']:.0f} s",
                    flush=True,
                )
        train_result = net.evaluate(train.inputs, train.labels)
        weights = net.weights()
    run_dir = run_dir or Path("runs") / ("digits-steady" if steady else "digits")
    run_dir.mkdir(parents=True, exist_ok=True)
    np.savez(run_dir / "weights.npz", **weights)
    results = {
        "spec": str(spec),
        "engine": engine if engine == "sim" else f"lava ({layout})",
        "dynamics": "steady-state approximation" if steady else "full",
        "split": {"train": len(train.inputs), "test": len(test.inputs), "seed": 0},
        "epochs": epochs,
        "training seconds": training,
        "ms per pattern": 1e3 * training / (epochs * len(train.inputs)),
        "final": curve[-1],
        "best": max(curve, key=lambda row: row["test accuracy"]),
        "train accuracy": float(train_result.accuracy),
        "curve": curve,
    }
    if steady:
        results["full dynamics evaluation"] = evaluate_full(
            network, spec, weights, test, engine, layout
        )
    if mlp:
        results["mlp"] = mlp_baselines(hidden_sizes(network), train, test)
    results["seconds"] = clock()
    common.save_json(run_dir / "results.json", results)
    plot(results, run_dir / "digits.png")
    return results


def plot(results: dict, path: Path) -> None:
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
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--no-mlp", action="store_true")
    args = parser.parse_args(argv)
    results = run(
        args.spec,
        args.engine,
        args.layout,
        args.steady,
        args.epochs,
        args.run_dir,
        not args.no_mlp,
    )
    final, best = results["final"], results["best"]
    print(
        f"{results['dynamics']} dynamics on {results['engine']}: "
        f"{results['epochs']} epochs, {results['ms per pattern']:.1f} ms per pattern, "
        f"{results['seconds']:.0f} s in all"
    )
    print(
        f"  microcircuit: test accuracy {100 * final['test accuracy']:.1f} % "
        f"(best {100 * best['test accuracy']:.1f} % after epoch {best['epoch']}), "
        f"train {100 * results['train accuracy']:.1f} %"
    )
    if "full dynamics evaluation" in results:
        full = results["full dynamics evaluation"]
        print(f"  the same weights, full dynamics: {100 * full['test accuracy']:.1f} %")
    for activation, mlp in results.get("mlp", {}).items():
        print(
            f"  MLP ({activation}, backprop): test accuracy "
            f"{100 * mlp['test accuracy']:.1f} % after {mlp['epochs']} epochs"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
