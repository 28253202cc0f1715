"""Initial weights of a checked network, computed from its initialisers.

The reference simulator and the builds of every target start from these
arrays, so each initialiser has exactly one meaning:

* ``constant(v)``: every weight is ``v``;
* ``uniform(low, high, seed)``: ``numpy.random.default_rng(seed).uniform``;
* ``normal(mean, std, seed)``: ``numpy.random.default_rng(seed).normal``;
* ``file(path)``: ``numpy.load`` of a ``.npy`` file relative to the spec;
* ``self_predicting``: ``factor`` times the initial weights of another
  projection, which is computed first.

All-to-all weights have shape ``(target size, source size)``; one-to-one
weights have shape ``(size,)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcdl import ir


class InitError(ValueError):
    """An initialiser could not produce its weights (a missing or bad file)."""


def weight_shape(network: ir.Network, projection: ir.Projection) -> tuple[int, ...]:
    """Return the shape of ``projection``'s weights in ``network``."""
    target = network.population(projection.target).size
    if projection.one_to_one:
        return (target,)
    return (target, network.population(projection.source).size)


def initial_weights(
    network: ir.Network, base_dir: Path | None = None
) -> dict[str, np.ndarray]:
    """Return the initial weights of every projection, by projection name.

    Args:
        network: the checked network.
        base_dir: the folder that ``file`` initialisers are relative to.

    Raises:
        InitError: a ``.npy`` file is missing, unreadable or of the wrong shape.
    """
    weights: dict[str, np.ndarray] = {}
    pending = list(network.projections)
    while pending:
        progressed = False
        for projection in list(pending):
            init = projection.init
            if isinstance(init, ir.SelfPredictingInit) and init.source not in weights:
                continue
            shape = weight_shape(network, projection)
            weights[projection.name] = _draw(init, shape, weights, base_dir)
            pending.remove(projection)
            progressed = True
        if not progressed:
            names = ", ".join(p.name for p in pending)
            raise InitError(f"self-predicting initialisers form a cycle: {names}")
    return weights


def _draw(
    init: ir.Init,
    shape: tuple[int, ...],
    done: dict[str, np.ndarray],
    base_dir: Path | None,
) -> np.ndarray:
    if isinstance(init, ir.ConstantInit):
        return np.full(shape, init.value, dtype=np.float64)
    if isinstance(init, ir.UniformInit):
        return np.random.default_rng(init.seed).uniform(init.low, init.high, shape)
    if isinstance(init, ir.NormalInit):
        return np.random.default_rng(init.seed).normal(init.mean, init.std, shape)
    if isinstance(init, ir.SelfPredictingInit):
        return init.factor * done[init.source]
    return _load(init, shape, base_dir)


def _load(
    init: ir.FileInit, shape: tuple[int, ...], base_dir: Path | None
) -> np.ndarray:
    path = Path(init.path)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InitError(f"cannot load weights from {init.path}: {error}") from error
    if array.shape != shape:
        raise InitError(
            f"weights in {init.path} have shape {array.shape}, the projection "
            f"needs {shape}"
        )
    return np.asarray(array, dtype=np.float64)
