"""Datasets for training and evaluating networks, as plain arrays.

A dataset is a ``Dataset(inputs, labels, classes)``: ``inputs`` a float64
array with one pattern per row, ``labels`` an integer array with one class
per row, ``classes`` the number of classes. It unpacks like a tuple.

* ``bars``: the 3x3 bars task of model.md §5, generated;
* ``bars_validation``: its eight clean patterns, each once;
* ``digits``: scikit-learn's bundled 8x8 digits, scaled to [0, 1], split
  into training and test sets by a seeded permutation;
* ``load_npz``: a user's arrays from a ``.npz`` file;
* ``regression``: the teacher network of the paper's Fig. 2, its targets as
  potentials (``labels`` then holds one row of target potentials per pattern
  and ``classes`` is 0);
* ``random_patterns``: uniform random patterns with random class labels, for
  timing networks of any size.

``target_potentials`` turns labels into the target potentials a network is
nudged toward.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np


class DataError(ValueError):
    """A dataset cannot be made or read: a missing file, key or bad shape."""


class Dataset(NamedTuple):
    """Patterns (one per row), their integer labels, and the class count."""

    inputs: np.ndarray
    labels: np.ndarray
    classes: int


BAR_CLASSES = ("horizontal", "vertical", "diagonal")
"""The class names of the bars task, by label."""


def bar_patterns() -> list[list[np.ndarray]]:
    """Return the eight clean 3x3 bars, flattened row by row, per class.

    Class 0 holds the three rows (top to bottom), class 1 the three columns
    (left to right), class 2 the diagonal and the anti-diagonal.
    """
    rows = []
    columns = []
    for index in range(3):
        row = np.zeros((3, 3))
        row[index, :] = 1.0
        rows.append(row.reshape(9))
        column = np.zeros((3, 3))
        column[:, index] = 1.0
        columns.append(column.reshape(9))
    diagonals = [np.eye(3).reshape(9), np.fliplr(np.eye(3)).reshape(9)]
    return [rows, columns, diagonals]


def bars(
    samples_per_class: int = 500,
    noise: float = 0.01,
    seed: int = 0,
    shuffle: bool = False,
) -> Dataset:
    """Return the noisy bars training set of model.md §5.

    Sample ``i`` has class ``i % 3`` and is the ``(i // 3)``-th sample of its
    class; a class's samples cycle through its clean patterns (in the order
    of ``bar_patterns``). Every pixel gets uniform noise in ``[0, noise)``,
    drawn as one ``(n, 9)`` array by ``numpy.random.default_rng(seed)``; with
    ``shuffle`` the same generator then permutes the samples.

    Args:
        samples_per_class: how many samples each of the three classes has.
        noise: the upper end of the uniform pixel noise.
        seed: the seed of the noise (and of the shuffle).
        shuffle: whether to permute the samples after drawing them.
    """
    if samples_per_class < 0 or noise < 0:
        raise DataError("samples_per_class and noise must not be negative")
    patterns = bar_patterns()
    count = 3 * samples_per_class
    labels = np.arange(count) % 3
    clean = np.array(
        [
            patterns[label][(i // 3) % len(patterns[label])]
            for i, label in enumerate(labels)
        ]
    ).reshape(count, 9)
    rng = np.random.default_rng(seed)
    inputs = clean + rng.uniform(0.0, noise, size=(count, 9))
    if shuffle:
        order = rng.permutation(count)
        inputs, labels = inputs[order], labels[order]
    return Dataset(inputs, labels.astype(np.int64), len(BAR_CLASSES))


def bars_validation() -> Dataset:
    """Return the eight clean bars, each once, with their labels.

    Clean patterns make validation deterministic and cover every bar; the
    accuracy is then a multiple of 1/8.
    """
    inputs, labels = [], []
    for label, patterns in enumerate(bar_patterns()):
        inputs += patterns
        labels += [label] * len(patterns)
    return Dataset(np.array(inputs), np.array(labels, dtype=np.int64), 3)


def digits(seed: int = 0, test_fraction: float = 0.2) -> tuple[Dataset, Dataset]:
    """Return scikit-learn's 8x8 digits as (training, test) sets.

    Pixels (0..16) are divided by 16. The test set is the first
    ``round(test_fraction * 1797)`` samples of a permutation drawn by
    ``numpy.random.default_rng(seed)``, the training set the rest, each in
    permutation order.

    Args:
        seed: the seed of the split.
        test_fraction: the share of samples held out, in ``(0, 1)``.
    """
    # Imported here: scikit-learn takes a second to import, and only this
    # dataset needs it.
    from sklearn.datasets import load_digits

    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction must be in (0, 1), not {test_fraction}")
    bunch = load_digits()
    inputs = np.asarray(bunch.data, dtype=np.float64) / 16.0
    labels = np.asarray(bunch.target, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    held_out = int(round(test_fraction * len(labels)))
    test, train = order[:held_out], order[held_out:]
    return (
        Dataset(inputs[train], labels[train], 10),
        Dataset(inputs[test], labels[test], 10),
    )


NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
"""The arrays a ``.npz`` dataset must hold."""


def load_npz(path: str | Path) -> tuple[Dataset, Dataset]:
    """Return the (training, test) sets stored in a ``.npz`` file.

    The file holds ``x_train`` and ``x_test`` (2-D, one pattern per row, the
    same number of columns) and ``y_train`` and ``y_test`` (1-D non-negative
    integer labels, one per row). The class count is the largest label + 1.

    Raises:
        DataError: the file cannot be read, a key is missing, or an array
            has the wrong shape or type.
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path}: {error}") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path} holds one array, not a .npz archive of four")
    try:
        with archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:
        raise DataError(f"cannot read {path}: {error}") from error
    missing = [key for key in NPZ_KEYS if key not in arrays]
    if missing:
        raise DataError(
            f"{path} lacks {', '.join(missing)}; a dataset needs {', '.join(NPZ_KEYS)}"
        )
    x_train, x_test = (_patterns(arrays, key, path) for key in ("x_train", "x_test"))
    if x_train.shape[1] != x_test.shape[1]:
        raise DataError(
            f"{path}: x_train has {x_train.shape[1]} columns, x_test {x_test.shape[1]}"
        )
    y_train = _labels(arrays, "y_train", len(x_train), path)
    y_test = _labels(arrays, "y_test", len(x_test), path)
    classes = int(max(y_train.max(initial=-1), y_test.max(initial=-1))) + 1
    return Dataset(x_train, y_train, classes), Dataset(x_test, y_test, classes)


def _patterns(arrays: dict[str, np.ndarray], key: str, path: str | Path) -> np.ndarray:
    array = arrays[key]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise DataError(
            f"{path}: {key} must be a 2-D numeric array (patterns x inputs), "
            f"not of shape {array.shape} and type {array.dtype}"
        )
    return np.asarray(array, dtype=np.float64)


def _labels(
    arrays: dict[str, np.ndarray], key: str, count: int, path: str | Path
) -> np.ndarray:
    array = arrays[key]
    if array.shape != (count,):
        raise DataError(
            f"{path}: {key} must have shape ({count},), one label per pattern, "
            f"not {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.number) or np.any(array != np.round(array)):
        raise DataError(f"{path}: {key} must hold whole-number class labels")
    if np.any(array < 0):
        raise DataError(f"{path}: {key} must hold non-negative class labels")
    return np.asarray(array, dtype=np.int64)


def target_potentials(
    labels: np.ndarray, classes: int, high: float = 1.0, low: float = 0.0
) -> np.ndarray:
    """Return one row of target potentials per label.

    Row ``i`` is ``high`` at ``labels[i]`` and ``low`` elsewhere.

    Raises:
        DataError: a label is not in ``range(classes)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or np.any((labels < 0) | (labels >= classes)):
        raise DataError(f"labels must be a 1-D array of classes 0..{classes - 1}")
    targets = np.full((len(labels), classes), low, dtype=np.float64)
    targets[np.arange(len(labels)), labels] = high
    return targets


REGRESSION_SIZES = (30, 20, 10)
"""The teacher network of the regression task: inputs, hidden, outputs."""


def teacher_phi(u: np.ndarray) -> np.ndarray:
    """The teacher's transfer function: soft-ReLU, gamma 0.1, beta 1, theta 3."""
    return 0.1 * np.logaddexp(0.0, np.asarray(u, dtype=np.float64) - 3.0)


class Teacher(NamedTuple):
    """The weights of the teacher network of ``regression``."""

    w10: np.ndarray
    w21: np.ndarray
    k10: float
    k21: float

    def potentials(self, inputs: np.ndarray) -> np.ndarray:
        """The output potentials ``k21 W21 phi(k10 W10 r0)``, one row per input."""
        hidden = teacher_phi(self.k10 * np.asarray(inputs) @ self.w10.T)
        return self.k21 * hidden @ self.w21.T

    def rates(self, inputs: np.ndarray) -> np.ndarray:
        """The output rates ``r_tgt = phi(k21 W21 phi(k10 W10 r0))``."""
        return teacher_phi(self.potentials(inputs))


def teacher(seed: int = 0, k10: float = 2.0, k21: float = 10.0) -> Teacher:
    """Return the 30-20-10 teacher network of the paper's Fig. 2.

    ``W10`` (20 x 30) and then ``W21`` (10 x 20) are drawn uniformly from
    ``(-1, 1)`` by ``numpy.random.default_rng([seed, 0])``.
    """
    rng = np.random.default_rng([seed, 0])
    n_in, n_hidden, n_out = REGRESSION_SIZES
    w10 = rng.uniform(-1.0, 1.0, (n_hidden, n_in))
    w21 = rng.uniform(-1.0, 1.0, (n_out, n_hidden))
    return Teacher(w10, w21, float(k10), float(k21))


def regression(
    train: int = 2000, validation: int = 200, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """Return (training, validation) sets of the nonlinear regression task.

    Inputs ``r0`` are uniform in ``(-1, 1)``, drawn by
    ``numpy.random.default_rng([seed, 1])`` (training) and ``[seed, 2]``
    (validation); the teacher is ``teacher(seed)``. A student is nudged
    toward the teacher's output *potentials*, ``k21 W21 phi(k10 W10 r0)``:
    its transfer function is the teacher's, so a student whose output
    potential matches them also matches the teacher's rates. ``labels``
    holds these target potentials, one row per pattern, and ``classes`` is 0
    (there are no classes); ``teacher(seed).rates(inputs)`` gives the rates.

    Args:
        train: the number of training patterns.
        validation: the number of validation patterns.
        seed: the seed of the teacher and of the inputs.
    """
    if train < 0 or validation < 0:
        raise DataError("train and validation must not be negative")
    model = teacher(seed)
    n_in = REGRESSION_SIZES[0]
    sets = []
    for stream, count in ((1, train), (2, validation)):
        inputs = np.random.default_rng([seed, stream]).uniform(-1.0, 1.0, (count, n_in))
        sets.append(Dataset(inputs, model.potentials(inputs), 0))
    return sets[0], sets[1]


def random_patterns(count: int, inputs: int, classes: int, seed: int = 0) -> Dataset:
    """Return ``count`` patterns uniform in ``[0, 1)`` with random labels.

    Drawn by ``numpy.random.default_rng(seed)``: the patterns, then the
    labels. For timing a network of any size; there is nothing to learn.
    """
    rng = np.random.default_rng(seed)
    patterns = rng.random((count, inputs))
    labels = rng.integers(0, classes, count)
    return Dataset(patterns, labels.astype(np.int64), classes)
