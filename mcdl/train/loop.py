"""The training loop behind ``mcdlc train``: phases, epochs, checkpoints.

A run keeps everything in one folder (``runs/<network>`` by default): the
generated package, ``checkpoint.npz``, ``history.json`` with the validation
loss and accuracy after every epoch, ``weights.npz`` and ``curves.png``.

After every epoch (and every phase counted in patterns) one file,
``checkpoint.npz``, takes the whole state of the network (potentials,
filters, weights, traces and the states of the noise generators) together
with the history; it is written to a temporary file, synced and renamed, and
the folder is synced after the rename, so a run killed at any moment, by
Ctrl-C, SIGTERM, SIGKILL or a power loss, keeps the last complete checkpoint
and loses at most the epoch it was in. ``resume`` sets the whole state from
it and goes on with the next epoch, so a resumed run gives the numbers of a
run that was never interrupted. ``weights.npz`` and ``history.json`` are
written after the checkpoint, for people and other programs; ``resume``
reads only the checkpoint.

A Lava worker that answers nothing for ``timeout`` seconds, one that fails
or dies, and a state that becomes NaN or infinite end the run with
``RunError``; the last complete checkpoint is kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from mcdl import data as datasets
from mcdl import ir
from mcdl.files import replace_atomically, sync_folder
from mcdl.sim import NonFiniteError
from mcdl.train import engines

log = logging.getLogger("mcdl")

HISTORY = "history.json"
WEIGHTS = "weights.npz"
CURVES = "curves.png"
CHECKPOINT = "checkpoint.npz"
_HISTORY_KEY = "__history__"
"""The checkpoint's entry holding the history as JSON (no state name has ``__``)."""
WORKER_TIMEOUT = 60.0
"""Seconds a Lava worker may take to answer before the run is stopped as hung.

A pattern of the specs here takes well under a second (55 ms for digits);
a network that needs longer sets ``timeout`` (``mcdlc train --timeout``).
"""


@dataclass
class Epoch:
    """The validation after one epoch of a data phase."""

    phase: str
    epoch: int
    loss: float
    accuracy: float
    seconds: float
    patterns: int


@dataclass
class History:
    """Every completed epoch, in order, and the settings of the run."""

    spec_sha256: str
    engine: str
    layout: str
    dataset: str
    target: str = "cpu"
    epochs: list[Epoch] = field(default_factory=list)
    done_phases: list[str] = field(default_factory=list)
    curve: list[list[float]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "spec_sha256": self.spec_sha256,
                "engine": self.engine,
                "layout": self.layout,
                "dataset": self.dataset,
                "target": self.target,
                "epochs": [vars(e) for e in self.epochs],
                "done_phases": self.done_phases,
                "curve": self.curve,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> History:
        raw = json.loads(text)
        epochs = [Epoch(**e) for e in raw.pop("epochs")]
        return cls(epochs=epochs, **raw)


class ResumeError(ValueError):
    """A run folder whose checkpoint is unreadable or not of this run."""


class RunError(RuntimeError):
    """The run failed: a Lava process failed, died or hung, or a state overflowed.

    The message is the engine's, without a worker's traceback (which is
    logged at the debug level).
    """


def load_dataset(name: str, spec: Path):
    """Return ``(train, validation)`` datasets for ``name``.

    ``bars``, ``digits`` and ``regression`` are built in; any other name is
    an ``.npz`` file with ``x_train``, ``y_train``, ``x_test``, ``y_test``.
    The regression task's labels are target potentials, one row each.
    """
    if name == "bars":
        return datasets.bars(), datasets.bars_validation()
    if name == "digits":
        return datasets.digits()
    if name == "regression":
        return datasets.regression()
    path = Path(name)
    if not path.is_absolute() and not path.exists():
        path = spec.parent / path
    return datasets.load_npz(path)


def train(
    network: ir.Network,
    spec: Path,
    run_dir: Path,
    *,
    epochs: int | None = None,
    dataset: str | None = None,
    engine: str = "lava",
    layout: str = "fused",
    target: str = "cpu",
    resume: bool = False,
    validate_every: int | None = None,
    progress: Callable[[str], None] | None = None,
    allow_outside: bool = False,
    timeout: float | None = WORKER_TIMEOUT,
) -> History:
    """Train ``network`` through its protocol; checkpoint after every epoch.

    Args:
        network: the checked network.
        spec: the spec's path (``file`` initialisers are relative to it).
        run_dir: the folder of the run.
        epochs: overrides the epochs of every data phase.
        dataset: ``bars``, ``digits`` or an ``.npz`` file; default the spec's.
        engine: ``lava`` (the generated package) or ``sim`` (``mcdl.sim``).
        layout: ``fused`` or ``layered``, for the Lava engine.
        target: ``cpu`` (float) or ``loihi`` (Loihi 2's integers, in Lava's
            ``fixed_pt`` simulation; fused layout, Lava engine, class labels).
        resume: continue after the last complete epoch in ``run_dir``.
        validate_every: patterns between two validations inside an epoch,
            for the curves; default a tenth of an epoch.
        progress: called with a one-line progress message now and then.
        allow_outside: let ``file`` initialisers lie outside the spec's folder.
        timeout: the seconds a Lava worker may take to answer before the run
            is stopped as hung; ``None`` waits as long as the workers live.

    Raises:
        ResumeError: ``resume`` was asked but ``run_dir`` holds another run,
            or a checkpoint that cannot be read or does not fit the network.
        RunError: a Lava process failed, died or did not answer within
            ``timeout``, or a value of the state became NaN or infinite. The
            last complete checkpoint is kept.
    """
    name = dataset or network.protocol.dataset or "bars"
    train_set, validation = load_dataset(name, spec)
    history = History(network.source.sha256, engine, layout, name, target)
    weights = state = None
    if resume:
        history, state, weights = _resume(run_dir, history)
    if not run_dir.is_dir():
        run_dir.mkdir(parents=True, exist_ok=True)
        sync_folder(run_dir.parent)

    if target == "loihi":
        start, failure = _loihi_engine(
            network, spec, run_dir, (engine, layout, timeout), train_set, allow_outside
        )
    else:
        start, failure = _engine(
            network, spec, run_dir, engine, layout, weights, allow_outside, timeout
        )
    with _failures_raised(failure), start() as net:
        if state is not None:
            _restore(net, state, run_dir / CHECKPOINT)
        for index, phase in enumerate(network.protocol.phases):
            counted_in_epochs = phase.input == "data" and phase.epochs is not None
            if phase.name in history.done_phases and not counted_in_epochs:
                continue
            if not counted_in_epochs:
                started = time.perf_counter()
                net.run_phase(index, (train_set.inputs, train_set.labels))
                history.done_phases.append(phase.name)
                log.info("phase %s: %.1f s", phase.name, time.perf_counter() - started)
                _checkpoint(run_dir, history, net, network)
                continue
            total = epochs if epochs is not None else phase.epochs
            done = sum(1 for e in history.epochs if e.phase == phase.name)
            for epoch in range(done + 1, total + 1):
                record = _epoch(
                    net,
                    (phase, index, epoch, total),
                    train_set,
                    validation,
                    validate_every,
                    history,
                    progress,
                )
                history.epochs.append(record)
                _checkpoint(run_dir, history, net, network)
            if phase.name not in history.done_phases:
                history.done_phases.append(phase.name)
            _checkpoint(run_dir, history, net, network)
    _plot(run_dir, history, network.name)
    return history


def _engine(network, spec, run_dir, engine, layout, weights, allow_outside, timeout):
    """A function that opens the engine, and the exception of a failed run.

    For Lava the package is built and imported first; its ``NetworkError``
    is a failure of a worker, a worker that answers nothing for ``timeout``
    seconds, or a value of the state that is not finite.
    """
    if engine == "sim":
        simulator = partial(
            engines.SimEngine, network, spec, weights, allow_outside=allow_outside
        )
        return simulator, NonFiniteError
    package = engines.build_package(
        network, spec, run_dir / "package", layout, allow_outside=allow_outside
    )
    module = engines.load_package(package)
    lava = partial(module.Network, weights=weights, timeout=timeout)
    return lava, module.NetworkError


def _loihi_engine(network, spec, run_dir, settings, train_set, allow_outside):
    """The loihi target's engine: its fused package, run in Lava.

    ``settings`` are the engine, the layout and the worker timeout.

    Raises:
        RunError: an engine, layout or data set the loihi target does not
            train with.
    """
    engine, layout, timeout = settings
    if engine != "lava" or layout != "fused":
        raise RunError(
            "the loihi target trains with --engine lava --layout fused (its "
            "integer reference and the chip-mapped layout are for mcdlc verify)"
        )
    if np.ndim(train_set.labels) != 1:
        raise RunError(
            "the loihi target trains on class labels; this data set's targets "
            "are potentials"
        )
    from mcdl.train.loihi import LoihiEngine

    package = engines.build_package(
        network, spec, run_dir / "package", layout, "loihi", allow_outside=allow_outside
    )
    module = engines.load_package(package)
    return partial(LoihiEngine, network, module, timeout), module.NetworkError


@contextlib.contextmanager
def _failures_raised(failure: type[Exception]):
    """Within this block, ``failure`` (an engine's failed run) raises ``RunError``."""
    try:
        yield
    except failure as exc:
        log.debug("the run failed: %s", exc)
        raise RunError(str(exc).split("\n\n", 1)[0]) from exc


def _epoch(net, where, train_set, validation, every, history, progress) -> Epoch:
    """Train one epoch in chunks, validating after each for the curves."""
    phase, index, epoch, total = where
    count = len(train_set.inputs)
    every = every or max(1, count // 10)
    seen = sum(e.patterns for e in history.epochs)
    started = time.perf_counter()
    result = None
    for start in range(0, count, every):
        stop = min(count, start + every)

        def tick(done: int, _presentation, start=start) -> None:
            if progress is not None:
                _report(
                    progress,
                    phase.name,
                    epoch,
                    total,
                    start + done + 1,
                    count,
                    time.perf_counter() - started,
                )

        net.train(
            train_set.inputs[start:stop],
            train_set.labels[start:stop],
            epochs=1,
            phase=index,
            callback=tick,
        )
        result = net.evaluate(validation.inputs, validation.labels)
        accuracy = _accuracy(result, validation)
        history.curve.append([seen + stop, float(result.loss), accuracy])
    seconds = time.perf_counter() - started
    return Epoch(phase.name, epoch, float(result.loss), accuracy, seconds, count)


def _accuracy(result, validation) -> float:
    """The accuracy of an evaluation; NaN where targets are not classes."""
    if np.ndim(validation.labels) != 1:
        return float("nan")
    return float(result.accuracy)


def _report(progress, phase, epoch, total, done, count, elapsed) -> None:
    if done % max(1, count // 60) and done != count:
        return
    width = 30
    filled = int(width * done / count)
    bar = "#" * filled + "-" * (width - filled)
    progress(f"{phase} epoch {epoch}/{total} [{bar}] {done}/{count} {elapsed:.0f} s")


def _resume(
    run_dir: Path, fresh: History
) -> tuple[History, dict[str, np.ndarray] | None, Path | None]:
    """The history, state and weights file a resumed run starts from.

    The state comes from the checkpoint; a run folder from before there were
    checkpoints gives only its weights file, and the run then continues from
    those weights alone.

    Raises:
        ResumeError: the checkpoint cannot be read, or is of another run.
    """
    path = run_dir / CHECKPOINT
    if path.exists():
        history, state = read_checkpoint(path)
        _check_same_run(run_dir, history, fresh)
        return history, state, None
    legacy = run_dir / HISTORY
    if not legacy.exists():
        return fresh, None, None
    try:
        history = History.from_json(legacy.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ResumeError(f"{legacy} cannot be read: {exc}") from exc
    _check_same_run(run_dir, history, fresh)
    weights = run_dir / WEIGHTS
    log.warning("%s has no %s; resuming from the weights alone", run_dir, CHECKPOINT)
    return history, None, weights if weights.exists() else None


def _check_same_run(run_dir: Path, history: History, fresh: History) -> None:
    if history.spec_sha256 != fresh.spec_sha256:
        raise ResumeError(f"{run_dir} holds a run of another version of the spec")
    if (history.engine, history.layout, history.dataset, history.target) != (
        fresh.engine,
        fresh.layout,
        fresh.dataset,
        fresh.target,
    ):
        raise ResumeError(
            f"{run_dir} holds a run on {history.target}/{history.engine}/"
            f"{history.layout} with "
            f"{history.dataset}; resume it with the same settings"
        )


def read_checkpoint(path: Path) -> tuple[History, dict[str, np.ndarray]]:
    """Return the history and the state saved in the checkpoint at ``path``.

    Raises:
        ResumeError: the file is missing, truncated, not a checkpoint, or its
            history cannot be read.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ResumeError(f"{path} is not a readable checkpoint: {exc}") from exc
    if _HISTORY_KEY not in arrays:
        raise ResumeError(f"{path} is not a checkpoint of mcdlc train: no history")
    try:
        history = History.from_json(str(arrays.pop(_HISTORY_KEY)))
    except (ValueError, TypeError, KeyError) as exc:
        raise ResumeError(f"the history in {path} cannot be read: {exc}") from exc
    return history, arrays


def _restore(net, state: dict[str, np.ndarray], path: Path) -> None:
    """Give ``net`` the checkpoint's ``state``, naming whatever does not fit."""
    current = net.state()
    missing = sorted(set(current) - set(state))
    unknown = sorted(set(state) - set(current))
    if missing or unknown:
        raise ResumeError(
            f"{path} does not fit the network: missing {missing}, unknown {unknown}"
        )
    for name, array in state.items():
        if array.shape != current[name].shape:
            raise ResumeError(
                f"{path}: {name} has shape {array.shape}, the network needs "
                f"{current[name].shape}"
            )
        if not np.isfinite(array).all():
            raise ResumeError(f"{path}: {name} holds values that are not finite")
    try:
        net.set_state(state)
    except ValueError as exc:
        raise ResumeError(f"{path} does not fit the network: {exc}") from exc


def _checkpoint(run_dir: Path, history: History, net, network: ir.Network) -> None:
    """Write the checkpoint, then the weights and the history, each atomically."""
    state = net.state()
    entries = dict(state)
    entries[_HISTORY_KEY] = np.array(history.to_json())
    replace_atomically(run_dir / CHECKPOINT, lambda f: np.savez(f, **entries))
    weights = {p.name: state[p.name] for p in network.projections}
    replace_atomically(run_dir / WEIGHTS, lambda f: np.savez(f, **weights))
    replace_atomically(run_dir / HISTORY, lambda f: f.write(history.to_json().encode()))


def _plot(run_dir: Path, history: History, name: str) -> None:
    if not history.epochs:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = np.asarray(history.curve)
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(9, 3.5))
    loss_axis.plot(curve[:, 0], curve[:, 1], marker="o")
    loss_axis.set_xlabel("training patterns")
    loss_axis.set_ylabel("validation loss (MSE)")
    if np.all(np.isnan(curve[:, 2])):
        accuracy_axis.set_axis_off()
        accuracy_axis.text(0.5, 0.5, "no classes: accuracy undefined", ha="center")
    else:
        accuracy_axis.plot(curve[:, 0], 100 * curve[:, 2], marker="o", color="C1")
        accuracy_axis.set_xlabel("training patterns")
        accuracy_axis.set_ylabel("validation accuracy (%)")
        accuracy_axis.set_ylim(0, 105)
    engine = "mcdl.sim" if history.engine == "sim" else f"Lava, {history.layout}"
    if history.target != "cpu":
        engine += f", {history.target}"
    figure.suptitle(f"{name} on {history.dataset} ({engine})")
    figure.tight_layout()
    replace_atomically(
        run_dir / CURVES, lambda f: figure.savefig(f, format="png", dpi=110)
    )
    plt.close(figure)


def stderr_progress(message: str) -> None:
    """Show ``message`` on standard error: in place on a terminal, else a line.

    Off a terminal (a log file, CI) only every tenth of the bar is written.
    """
    if sys.stderr.isatty():
        sys.stderr.write("\r" + message.ljust(79))
    else:
        bar = message[message.find("[") + 1 : message.find("]")]
        if bar.count("#") % 3 or bar.count("#") == _last_written[0]:
            return
        _last_written[0] = bar.count("#")
        sys.stderr.write(message + "\n")
    sys.stderr.flush()


_last_written = [-1]
