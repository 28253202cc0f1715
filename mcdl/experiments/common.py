"""What the experiment drivers share: engines, closed forms, run folders."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mcdl import ir
from mcdl.compiler import compile_file
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


@contextlib.contextmanager
def engine(
    network: ir.Network,
    spec: Path,
    name: str = "sim",
    layout: str = "fused",
    weights: Mapping[str, np.ndarray] | None = None,
) -> Iterator[Any]:
    """Open ``network`` on ``sim`` (``mcdl.sim``) or ``lava`` (generated code).

    Both offer ``train``, ``evaluate``, ``predict``-like read-outs through
    ``readouts``, ``weights`` and ``set_weights``; the Lava network is built
    into a temporary folder and stopped on exit.
    """
    if name == "sim":
        net = engines.SimEngine(network, spec, weights)
        yield net
        return
    if name != "lava":
        raise ValueError(f"unknown engine {name!r}: sim or lava")
    with tempfile.TemporaryDirectory(prefix="mcdl-experiment-") as folder:
        package = engines.build_package(network, spec, Path(folder), layout)
        module = engines.load_package(package)
        with module.Network(weights=dict(weights) if weights else None) as net:
            yield net


def readouts(net: Any, inputs: np.ndarray) -> np.ndarray:
    """The read-outs of an evaluation of ``inputs`` on either engine."""
    if isinstance(net, engines.SimEngine):
        labels = np.zeros(len(inputs), dtype=np.int64)
        return net.simulator.evaluate(inputs, labels).readouts
    return net.predict(inputs)


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
