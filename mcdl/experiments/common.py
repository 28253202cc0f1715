"""What the experiment drivers share.

An experiment opens its networks on an ``Engine`` (``mcdl.sim`` or the
generated Lava code, with the full dynamics or their steady-state
approximation), shows them patterns through a timed ``Training``, and saves
its numbers and its figure into a run folder. ``parser`` and ``parse`` give
every driver the same command line and log its progress to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mcdl import ir
from mcdl.compiler import compile_file
from mcdl.experiments.steady import steady_state
from mcdl.train import engines

ROOT = Path(__file__).resolve().parents[2]
"""The repository (where ``specs/`` is when mcdl runs from a checkout)."""

SPECS = ROOT / "specs"


def load(spec: Path) -> ir.Network:
    """Compile ``spec``; raise ``ValueError`` with the diagnostics if it fails."""
    result = compile_file(spec)
    if not result.ok:
        messages = "; ".join(d.message for d in result.diagnostics)
        raise ValueError(f"{spec} does not compile: {messages}")
    return result.network


ENGINES = ("sim", "lava")
LAYOUTS = ("fused", "layered")


@dataclasses.dataclass(frozen=True)
class Engine:
    """Where an experiment runs its networks, and with which dynamics.

    Attributes:
        name: ``sim`` (``mcdl.sim``) or ``lava`` (the generated package).
        layout: the Lava package's layout, ``fused`` or ``layered``.
        steady: run the steady-state approximation of every network
            (``mcdl.experiments.steady``) instead of its full dynamics.

    Raises:
        ValueError: ``name`` or ``layout`` is not one of the above.
    """

    name: str = "sim"
    layout: str = "fused"
    steady: bool = False

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise ValueError(f"unknown engine {self.name!r}: sim or lava")
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}: fused or layered")

    @property
    def label(self) -> str:
        """The engine as the results name it: ``sim`` or ``lava (fused)``."""
        return self.name if self.name == "sim" else f"lava ({self.layout})"

    @property
    def dynamics(self) -> str:
        """``full`` or ``steady-state approximation``."""
        return "steady-state approximation" if self.steady else "full"

    def full(self) -> Engine:
        """The same engine with the full dynamics."""
        return dataclasses.replace(self, steady=False)

    @contextlib.contextmanager
    def open(
        self,
        network: ir.Network,
        spec: Path,
        weights: Mapping[str, np.ndarray] | None = None,
    ) -> Iterator[Any]:
        """Open ``network`` (of ``spec``) with ``weights`` or its initial ones.

        Both engines offer ``train``, ``evaluate``, ``weights`` and
        ``set_weights``, and read-outs through ``readouts``; the Lava network
        is built into a temporary folder and stopped on exit.
        """
        if self.steady:
            network = steady_state(network)
        if self.name == "sim":
            yield engines.SimEngine(network, spec, weights)
            return
        with tempfile.TemporaryDirectory(prefix="mcdl-experiment-") as folder:
            package = engines.build_package(network, spec, Path(folder), self.layout)
            module = engines.load_package(package)
            with module.Network(weights=dict(weights) if weights else None) as net:
                yield net

    def describe(self) -> dict[str, str]:
        """The engine and the dynamics, as the results record them."""
        return {"engine": self.label, "dynamics": self.dynamics}


SIM = Engine()
"""``mcdl.sim`` with the full dynamics: where the drivers run by default."""


def readouts(net: Any, inputs: np.ndarray) -> np.ndarray:
    """The read-outs of an evaluation of ``inputs`` on either engine."""
    if isinstance(net, engines.SimEngine):
        labels = np.zeros(len(inputs), dtype=np.int64)
        return net.simulator.evaluate(inputs, labels).readouts
    return net.predict(inputs)


class Training:
    """The training of an open engine in one phase, timed.

    Counts the patterns shown and the wall-clock seconds spent in ``train``
    alone, so that measurements between the chunks do not count.
    """

    def __init__(self, net: Any, phase: int) -> None:
        self.net = net
        self.phase = phase
        self.patterns = 0
        self.seconds = 0.0

    def chunks(
        self,
        inputs: np.ndarray,
        labels: np.ndarray,
        every: int | None = None,
        epochs: int = 1,
    ) -> Iterator[int]:
        """Show the patterns ``every`` at a time (all at once by default).

        Goes through ``inputs`` and ``labels`` ``epochs`` times; after each
        chunk, yields the number of patterns shown so far.
        """
        count = len(inputs)
        every = every or count
        for _ in range(epochs):
            for first in range(0, count, every):
                part = slice(first, first + every)
                clock = Stopwatch()
                self.net.train(inputs[part], labels[part], phase=self.phase)
                self.seconds += clock()
                self.patterns += len(inputs[part])
                yield self.patterns

    def describe(self) -> dict[str, float]:
        """The training time and the time per pattern, as the results say."""
        per_pattern = self.seconds / max(self.patterns, 1)
        return {"training seconds": self.seconds, "ms per pattern": 1e3 * per_pattern}


def closed_form(
    network: ir.Network, weights: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The self-predicting lateral weights that ``weights`` imply (model.md §3).

    For every projection the closed form applies to, the same rule as
    ``init self_predicting()``: onto a population nudged one to one from an
    upper population ``U``, ``W_IP = (prediction of U's dendrite / prediction
    of its own) * W_up`` with ``W_up`` the projection from the same source
    onto ``U``; from such a population onto a compartment that ``U`` also
    projects onto, ``W_PI = -W_down``.
    """
    nudged_from = {n.target: n.source for n in network.nudgings if n.source}
    result = {}
    for projection in network.projections:
        upper = nudged_from.get(projection.source)
        partners = [
            p
            for p in network.projections
            if upper is not None
            and p.source == upper
            and p.target == projection.target
            and p.compartment == projection.compartment
        ]
        if len(partners) == 1:
            result[projection.name] = -np.asarray(weights[partners[0].name])
            continue
        upper = nudged_from.get(projection.target)
        partners = [
            p
            for p in network.projections
            if upper is not None and p.source == projection.source and p.target == upper
        ]
        if len(partners) == 1:
            up = partners[0]
            theirs = network.population(up.target).compartment(up.compartment)
            own = network.population(projection.target).compartment(
                projection.compartment
            )
            if theirs.prediction and own.prediction:
                factor = theirs.prediction.factor / own.prediction.factor
                result[projection.name] = factor * np.asarray(weights[up.name])
    return result


def phase_index(network: ir.Network, name: str) -> int:
    """The index of the protocol phase called ``name``."""
    for index, phase in enumerate(network.protocol.phases):
        if phase.name == name:
            return index
    names = [p.name for p in network.protocol.phases]
    raise ValueError(f"{network.name} has no phase {name!r}: {names}")


def phase_of(network: ir.Network, source: str) -> tuple[int, ir.Phase]:
    """The index and the first phase whose input is ``source`` (``data``, ...)."""
    for index, phase in enumerate(network.protocol.phases):
        if phase.input == source:
            return index, phase
    raise ValueError(f"{network.name} has no phase with {source} input")


def with_phases(network: ir.Network, **changes: dict[str, Any]) -> ir.Network:
    """``network`` with the named phases' settings changed (e.g. ``learn``)."""
    phases = []
    for phase in network.protocol.phases:
        update = changes.get(phase.name)
        phases.append(phase.model_copy(update=update) if update else phase)
    protocol = network.protocol.model_copy(update={"phases": tuple(phases)})
    return network.model_copy(update={"protocol": protocol})


class Stopwatch:
    """Wall-clock seconds since it was made."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.started


def parser(doc: str, spec: Path, *, steady: bool = True) -> argparse.ArgumentParser:
    """A driver's command line with the options every driver takes.

    Args:
        doc: the driver's docstring; its first line describes the command.
        spec: the default of ``--spec``.
        steady: offer ``--steady`` (the steady-state approximation).
    """
    result = argparse.ArgumentParser(description=doc.splitlines()[0])
    result.add_argument("--spec", type=Path, default=spec)
    result.add_argument("--engine", choices=ENGINES, default="sim")
    result.add_argument("--layout", choices=LAYOUTS, default="fused")
    if steady:
        result.add_argument(
            "--steady", action="store_true", help="the steady-state approximation"
        )
    result.add_argument("--run-dir", type=Path, default=None)
    result.add_argument(
        "--quiet", action="store_true", help="log warnings only, not the progress"
    )
    return result


def parse(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    log: logging.Logger,
) -> tuple[argparse.Namespace, Engine]:
    """Parse ``argv`` and show the driver's log ``log`` on stderr.

    Returns the arguments and the ``Engine`` they choose.
    """
    args = parser.parse_args(argv)
    log_to_stderr(log, args.quiet)
    return args, Engine(args.engine, args.layout, getattr(args, "steady", False))


def log_to_stderr(log: logging.Logger, quiet: bool = False) -> None:
    """Show the drivers' progress and results on stderr, or their warnings only.

    ``log`` is the driver's own logger, which is ``__main__`` when it runs
    with ``python -m``; other libraries show their warnings only.
    """
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    level = logging.WARNING if quiet else logging.INFO
    logging.getLogger(__package__).setLevel(level)
    log.setLevel(level)


def run_folder(run_dir: Path | None, name: str, engine: Engine = SIM) -> Path:
    """``run_dir``, or ``runs/NAME`` (``runs/NAME-steady`` for the approximation)."""
    if run_dir is not None:
        return run_dir
    return Path("runs") / (f"{name}-steady" if engine.steady else name)


def save_run(run_dir: Path, results: dict[str, Any], figure: Any, name: str) -> None:
    """Write ``results.json`` and the figure ``NAME.png`` into ``run_dir``."""
    save_json(run_dir / "results.json", results)
    save_figure(figure, run_dir / f"{name}.png")


def save_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(payload, file, indent=2, default=_plain)
        file.write("\n")
    os.replace(temporary, path)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def pyplot():
    """matplotlib's pyplot on the Agg back end (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: Path) -> None:
    """Lay out ``figure``, write it to ``path`` as a PNG and close it."""
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    pyplot().close(figure)
