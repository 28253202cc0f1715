"""Initial weights of a checked network, computed from its initialisers.

The reference simulator and the builds of every target start from these
arrays, so each initialiser has exactly one meaning:

* ``constant(v)``: every weight is ``v``;
* ``uniform(low, high, seed)``: ``numpy.random.default_rng(seed).uniform``;
* ``normal(mean, std, seed)``: ``numpy.random.default_rng(seed).normal``;
* ``file(path)``: ``numpy.load`` of a ``.npy`` file relative to the spec,
  inside the spec's folder unless files outside it are allowed; its header
  is read first, so a file of the wrong shape or type is refused before its
  data is read;
* ``self_predicting``: ``factor`` times the initial weights of another
  projection, which is computed first.

All-to-all weights have shape ``(target size, source size)``; one-to-one
weights have shape ``(size,)``. Weights that are not finite numbers (a NaN
in a file, an overflow of ``normal``) are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcdl import ir
from mcdl.frontend.imports import inside


class InitError(ValueError):
    """An initialiser could not produce its weights (a missing or bad file).

    ``projection`` names the projection whose initialiser failed, if known.
    """

    projection: str | None = None


class OutsideError(InitError):
    """A weights file outside the spec's folder, where that is not allowed."""


def weight_shape(network: ir.Network, projection: ir.Projection) -> tuple[int, ...]:
    """Return the shape of ``projection``'s weights in ``network``."""
    target = network.population(projection.target).size
    if projection.one_to_one:
        return (target,)
    return (target, network.population(projection.source).size)


def initial_weights(
    network: ir.Network,
    base_dir: Path | None = None,
    *,
    allow_outside: bool = True,
) -> dict[str, np.ndarray]:
    """Return the initial weights of every projection, by projection name.

    Args:
        network: the checked network.
        base_dir: the folder that ``file`` initialisers are relative to.
        allow_outside: whether a ``file`` may lie outside ``base_dir``. The
            command line passes False unless ``--allow-outside`` is given.

    Raises:
        InitError: a ``.npy`` file is missing, unreadable, outside
            ``base_dir`` when that is not allowed, not an array of numbers of
            the projection's shape, or holds values that are not finite.
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
            try:
                if isinstance(init, ir.FileInit):
                    array = _load(init, shape, base_dir, allow_outside)
                else:
                    array = _draw(init, shape, weights)
                _check_finite(projection.name, array)
            except InitError as exc:
                exc.projection = projection.name
                raise
            weights[projection.name] = array
            pending.remove(projection)
            progressed = True
        if not progressed:
            names = ", ".join(p.name for p in pending)
            raise InitError(f"self-predicting initialisers form a cycle: {names}")
    return weights


def _check_finite(name: str, array: np.ndarray) -> None:
    if not np.isfinite(array).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise InitError(
            f"the initial weights of {name} are not all finite: {array[where]} "
            f"at {where}"
        )


def _draw(
    init: ir.Init, shape: tuple[int, ...], done: dict[str, np.ndarray]
) -> np.ndarray:
    if isinstance(init, ir.ConstantInit):
        return np.full(shape, init.value, dtype=np.float64)
    if isinstance(init, ir.UniformInit):
        return np.random.default_rng(init.seed).uniform(init.low, init.high, shape)
    if isinstance(init, ir.NormalInit):
        return np.random.default_rng(init.seed).normal(init.mean, init.std, shape)
    if isinstance(init, ir.SelfPredictingInit):
        return init.factor * done[init.source]
    raise InitError(f"unknown initialiser {init.kind}")


def _read_header(file) -> tuple[tuple[int, ...], bool, np.dtype]:
    """The shape, order and type of the ``.npy`` file ``file``, from its header."""
    version = np.lib.format.read_magic(file)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(file)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(file)
    raise ValueError(f"the .npy format version {version} holds no plain numbers")


def _load(
    init: ir.FileInit,
    shape: tuple[int, ...],
    base_dir: Path | None,
    allow_outside: bool,
) -> np.ndarray:
    """Read a ``.npy`` file: its header first, its data if the header fits."""
    path = Path(init.path)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    shown = repr(init.path)
    if base_dir is not None and not allow_outside and not inside(path, base_dir):
        raise OutsideError(f"the weights file {shown} is outside the spec's folder")
    try:
        if not path.is_file():
            raise InitError(f"cannot load weights from {shown}: not a file")
        with path.open("rb") as file:
            header = _read_header(file)
    except (OSError, ValueError) as error:
        reason = f"not a .npy file ({error})"
        raise InitError(f"cannot load weights from {shown}: {reason}") from error
    found, _, dtype = header
    if tuple(found) != shape:
        raise InitError(
            f"weights in {shown} have shape {tuple(found)}, the projection "
            f"needs {shape}"
        )
    if dtype.kind not in "biuf":
        raise InitError(
            f"weights in {shown} are of type {dtype}, not numbers; save them as float64"
        )
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InitError(f"cannot load weights from {shown}: {error}") from error
    return np.asarray(array, dtype=np.float64)
