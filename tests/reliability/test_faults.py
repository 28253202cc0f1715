"""Runs survive faults: each injected fault gives a clear error, nothing is left.

Faults are injected into the generated package of a short bars network, in
both layouts: an exception in every kind of model, a failure while the
models are built, a worker killed, a state driven to infinity, Ctrl-C, and
weights or states that are corrupt or do not fit. Each must surface as an
exception that names the Lava process (or the variable) and the cause,
within seconds; the network must be closed, and no worker process and no
shared-memory segment of the run may outlive it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from mcdl import data
from mcdl.cli import build_parser, main
from mcdl.compiler import compile_file
from mcdl.init import initial_weights
from mcdl.sim import NonFiniteError, Simulator
from mcdl.train import engines, loop

from .runs import Leaks, quick_bars, shared_memory, small_dataset

pytestmark = [pytest.mark.lava]

SECONDS = 10.0
"""How soon a fault must reach the caller.

Each test records the time it measured as the property ``seconds``, which
``pytest --junitxml=FILE`` writes out: the figures of docs/reliability.md.
"""


def signal_later(pid: int, signum: int, delay: float = 0.3) -> list[float]:
    """Send ``signum`` to ``pid`` in ``delay`` s; the list gets when it was sent."""
    sent: list[float] = []

    def send() -> None:
        sent.append(time.monotonic())
        os.kill(pid, signum)

    threading.Timer(delay, send).start()
    return sent


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    return quick_bars(tmp_path_factory.mktemp("spec"))


@pytest.fixture(scope="module")
def packages(spec: Path, tmp_path_factory) -> dict[str, ModuleType]:
    network = compile_file(spec).network
    found = {}
    for layout in ("fused", "layered"):
        out = tmp_path_factory.mktemp(layout)
        package = engines.build_package(network, spec, out, layout)
        found[layout] = engines.load_package(package)
    return found


@pytest.fixture
def leaks(monkeypatch) -> Leaks:
    watched = Leaks(monkeypatch)
    yield watched
    workers, segments = watched.left()
    assert not workers, f"worker processes outlived the run: {workers}"
    assert not segments, f"shared memory outlived the run: {segments}"


PATTERNS = data.bars(samples_per_class=2, seed=0)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("layout", "segments"), [("fused", 12), ("layered", 22)])
def test_the_accounting_sees_every_segment_of_a_run(
    packages, layout, segments, leaks
) -> None:
    """Without this, a Lava that allocated otherwise would make ``leaks`` blind."""
    with packages[layout].Network() as network:
        network.train(PATTERNS.inputs[:1], PATTERNS.labels[:1])

        assert len(set(leaks.segments)) == segments
        assert set(leaks.segments) <= shared_memory()


MODELS = [
    ("fused", "PyBarsFusedModel", "BarsFused"),
    ("layered", "PyBarsInputModel", "BarsInput"),
    ("layered", "PyBarsHiddenLayerModel", "BarsHiddenLayer"),
    ("layered", "PyBarsOutputLayerModel", "BarsOutputLayer"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("layout", "model", "process"), MODELS)
def test_an_exception_in_any_model_names_its_process(
    packages, layout, model, process, monkeypatch, leaks, record_property
) -> None:
    package = packages[layout]

    def explode(self, *args) -> None:
        raise ZeroDivisionError(f"injected into {type(self).__name__}")

    monkeypatch.setattr(getattr(package.models, model), "_present", explode)
    network = package.Network()
    started = time.monotonic()

    with pytest.raises(package.NetworkError) as caught:
        with network:
            network.train(PATTERNS.inputs, PATTERNS.labels)

    seconds = time.monotonic() - started
    record_property("seconds", round(seconds, 3))
    assert seconds < SECONDS
    message = str(caught.value)
    assert f"the Lava process {process} ({model}) failed" in message
    assert f"ZeroDivisionError: injected into {model}" in message
    assert caught.value.process == f"the Lava process {process} ({model})"
    assert network.closed


@pytest.mark.timeout(60)
@pytest.mark.parametrize("layout", ["fused", "layered"])
def test_a_model_that_fails_to_start_is_reported_and_cleaned_up(
    packages, layout, monkeypatch, leaks, record_property
) -> None:
    package = packages[layout]
    _, model, process = next(entry for entry in MODELS if entry[0] == layout)

    def refuse(self, proc_params) -> None:
        raise MemoryError("injected: no memory for the state")

    monkeypatch.setattr(getattr(package.models, model), "_setup", refuse)
    started = time.monotonic()

    with pytest.raises(package.NetworkError) as caught:
        package.Network()

    seconds = time.monotonic() - started
    record_property("seconds", round(seconds, 3))
    assert seconds < SECONDS
    assert str(caught.value) == (
        f"Lava could not start the network (the Lava process {process} ({model}) "
        "failed): injected: no memory for the state"
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("layout", ["fused", "layered"])
def test_a_killed_worker_is_reported_by_process(
    packages, layout, leaks, record_property
) -> None:
    package = packages[layout]
    inputs = np.repeat(PATTERNS.inputs, 20, axis=0)
    labels = np.repeat(PATTERNS.labels, 20)

    with package.Network() as network:
        runtime = network._runtime
        victim = next(w for w in runtime._workers() if "Bars" in runtime._describe(w))
        name, pid = runtime._describe(victim), victim.pid
        sent = signal_later(pid, signal.SIGKILL)
        with pytest.raises(package.NetworkError) as caught:
            network.train(inputs, labels)

    seconds = time.monotonic() - sent[0]
    record_property("seconds", round(seconds, 3))
    assert seconds < SECONDS
    assert f"{name} (pid {pid}) exited with code -9" in str(caught.value)


@pytest.mark.timeout(60)
def test_a_worker_that_hangs_is_reported_after_the_timeout(
    packages, leaks, record_property
) -> None:
    package = packages["fused"]
    inputs = np.repeat(PATTERNS.inputs, 20, axis=0)
    labels = np.repeat(PATTERNS.labels, 20)

    with package.Network(timeout=2.0) as network:
        runtime = network._runtime
        victim = next(w for w in runtime._workers() if "Fused" in runtime._describe(w))
        sent = signal_later(victim.pid, signal.SIGSTOP)
        with pytest.raises(package.NetworkError, match="sent nothing for 2 s"):
            network.train(inputs, labels)

    seconds = time.monotonic() - sent[0]
    record_property("seconds", round(seconds, 3))
    assert 2 < seconds < SECONDS
    assert network.closed


@pytest.mark.timeout(120)
def test_a_model_that_hangs_in_mcdlc_train_stops_it_within_the_timeout(
    tmp_path: Path, capsys, monkeypatch, leaks, record_property
) -> None:
    """The fused model blocks in the second epoch: exit 1 after ``--timeout``."""
    spec = quick_bars(tmp_path, pattern_ms=100, epochs=3)
    dataset = small_dataset(tmp_path / "small.npz", train=40, test=3)
    run_dir = tmp_path / "run"
    checkpoint = run_dir / loop.CHECKPOINT
    load = engines.load_package

    def load_a_model_that_hangs(package: Path) -> ModuleType:
        module = load(package)
        model = module.models.PyBarsFusedModel
        present = model._present

        def hang_after_the_first_epoch(self, *args):
            if checkpoint.exists():
                time.sleep(3600)
            return present(self, *args)

        monkeypatch.setattr(model, "_present", hang_after_the_first_epoch)
        return module

    monkeypatch.setattr(engines, "load_package", load_a_model_that_hangs)

    status = main(
        ["train", str(spec), "--dataset", str(dataset), "--run-dir", str(run_dir)]
        + ["--validate-every", "40", "--timeout", "2"]
    )

    seconds = time.time() - checkpoint.stat().st_mtime
    record_property("seconds", round(seconds, 3))
    stderr = capsys.readouterr().err
    assert status == 1, stderr
    assert "mcdlc train: Lava sent nothing for 2 s; a process may hang" in stderr
    assert "Traceback" not in stderr
    assert 2 < seconds < SECONDS
    history, _ = loop.read_checkpoint(checkpoint)
    assert [epoch.epoch for epoch in history.epochs] == [1]


def test_mcdlc_train_bounds_the_wait_for_lava_unless_told_otherwise() -> None:
    parser = build_parser()

    assert parser.parse_args(["train", "a.mcdl"]).timeout == loop.WORKER_TIMEOUT
    assert parser.parse_args(["train", "a.mcdl", "--timeout", "0.5"]).timeout == 0.5
    assert parser.parse_args(["train", "a.mcdl", "--timeout", "0"]).timeout is None


@pytest.mark.timeout(60)
def test_ctrl_c_stops_lava_and_leaves_nothing(packages, leaks, record_property) -> None:
    package = packages["fused"]
    inputs = np.repeat(PATTERNS.inputs, 40, axis=0)
    labels = np.repeat(PATTERNS.labels, 40)
    network = package.Network()
    sent = signal_later(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        with network:
            network.train(inputs, labels)

    seconds = time.monotonic() - sent[0]
    record_property("seconds", round(seconds, 3))
    assert seconds < SECONDS
    assert network.closed


# -- Values that stop being finite ----------------------------------------------


def exploding_weights(spec: Path) -> dict[str, np.ndarray]:
    weights = initial_weights(compile_file(spec).network, spec.parent)
    weights["W_up1"] = weights["W_up1"] * 1e300
    return weights


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_state_that_overflows_is_named_as_mcdl_sim_names_it(
    spec, packages, leaks, record_property
) -> None:
    """Fused: the same variable, element and time step as the reference."""
    package = packages["fused"]
    network = compile_file(spec).network
    weights = exploding_weights(spec)
    phase = network.protocol.phases[0]

    with pytest.raises(NonFiniteError) as reference:
        Simulator(network, weights).train(PATTERNS.inputs, PATTERNS.labels, phase)
    with pytest.raises(package.NetworkError) as caught:
        with package.Network(weights=weights) as lava:
            started = time.monotonic()
            lava.train(PATTERNS.inputs, PATTERNS.labels)

    record_property("seconds", round(time.monotonic() - started, 3))
    record_property("message", str(caught.value).split("\n")[0])

    expected = str(reference.value)
    assert f"FloatingPointError: {expected}" in str(caught.value)
    assert reference.value.variable == "D:W_up2"
    assert reference.value.population == "output.pyr"


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_layered_layout_names_the_time_step_of_the_overflow(
    spec, packages, leaks, record_property
) -> None:
    package = packages["layered"]
    network = compile_file(spec).network
    weights = exploding_weights(spec)
    phase = network.protocol.phases[0]
    with pytest.raises(NonFiniteError) as reference:
        Simulator(network, weights).train(PATTERNS.inputs, PATTERNS.labels, phase)
    when = str(reference.value).split(" became ")[1]

    with pytest.raises(package.NetworkError) as caught:
        with package.Network(weights=weights) as lava:
            started = time.monotonic()
            lava.train(PATTERNS.inputs, PATTERNS.labels)

    record_property("seconds", round(time.monotonic() - started, 3))
    record_property("message", str(caught.value).split("\n")[0])

    assert f" became {when}" in str(caught.value)
    assert "of population " in str(caught.value)


@pytest.mark.timeout(120)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("engine", ["lava", "sim"])
def test_mcdlc_train_reports_an_overflow_without_a_traceback(
    spec, tmp_path: Path, capsys, engine, leaks
) -> None:
    np.save(spec.parent / "exploding.npy", exploding_weights(spec)["W_up1"])
    text = spec.read_text().replace(
        "init uniform(-1, 1, seed = 1)", 'init file("exploding.npy")', 1
    )
    explodes = spec.parent / "explodes.mcdl"
    explodes.write_text(text)
    dataset = small_dataset(tmp_path / "small.npz", train=6, test=3)

    status = main(
        ["train", str(explodes), "--dataset", str(dataset), "--engine", engine]
        + ["--run-dir", str(tmp_path / "run")]
    )

    stderr = capsys.readouterr().err
    assert status == 1, stderr
    assert "became infinite at step" in stderr
    assert "of population output.pyr" in stderr
    assert "Traceback" not in stderr


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_reference_finds_the_first_step_that_is_not_finite(spec) -> None:
    """Checking once per pattern and replaying finds what every step would."""
    network = compile_file(spec).network
    weights = exploding_weights(spec)
    with pytest.raises(NonFiniteError) as caught:
        Simulator(network, weights).train(
            PATTERNS.inputs, PATTERNS.labels, network.protocol.phases[0]
        )

    stepwise = Simulator(network, weights)
    targets = np.where(np.eye(3)[PATTERNS.labels] > 0, 1.0, 0.1)
    with pytest.raises(NonFiniteError) as step_by_step:
        for pattern, target in zip(PATTERNS.inputs, targets, strict=True):
            for k in range(stepwise.steps_per_pattern):
                plastic = k >= stepwise.settle_steps
                stepwise.step(pattern, target, teach=True, plastic=plastic, noise=True)

    assert str(step_by_step.value) == str(caught.value)


# -- Weights and states that do not fit ------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "cannot read weights"),
        (b"PK\x03\x04 truncated zip", "cannot read weights"),
        (b"not a zip at all", "cannot read weights"),
    ],
)
def test_a_corrupt_weights_file_is_a_weights_error(
    packages, tmp_path: Path, content: bytes, words: str
) -> None:
    package = packages["fused"]
    path = tmp_path / "weights.npz"
    path.write_bytes(content)

    with pytest.raises(package.WeightsError, match=words):
        package.Network(weights=path)


def test_weights_that_do_not_fit_are_named(packages, tmp_path: Path) -> None:
    package = packages["fused"]
    good = package.initial_weights()
    cases = [
        ({"W_up9": good["W_up1"]}, "'W_up9' is not a projection"),
        ({"W_up1": good["W_up1"].T}, r"'W_up1' have shape \(9, 30\)"),
        ({"W_up1": np.full((30, 9), np.inf)}, r"'W_up1' hold inf at \(0, 0\)"),
        ({"W_up2": np.array([["a"] * 30] * 3)}, "'W_up2' are not numbers"),
    ]
    for weights, words in cases:
        np.savez(tmp_path / "w.npz", **weights)
        with pytest.raises(package.WeightsError, match=words):
            package.Network(weights=tmp_path / "w.npz")


@pytest.mark.timeout(60)
def test_a_state_that_does_not_fit_is_refused_and_the_run_goes_on(
    packages, leaks
) -> None:
    package = packages["fused"]

    with package.Network() as network:
        before = network.state()
        bad = [
            ({"hidden.pyr.soma": np.full(30, np.nan)}, "'hidden.pyr.soma' holds nan"),
            ({"rng:hidden.pyr": np.full(10, 0.5)}, "not a generator's state"),
            ({"rng:hidden.pyr": np.full(10, 2.0**32)}, "not a generator's state"),
            ({"W_up1": np.zeros(3)}, "'W_up1' has shape"),
            ({"nothing": np.zeros(1)}, "not part of the network's state"),
        ]
        for state, words in bad:
            with pytest.raises(ValueError, match=words):
                network.set_state(state)
        after = network.state()
        network.train(PATTERNS.inputs[:1], PATTERNS.labels[:1])

    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("layout", ["fused", "layered"])
def test_the_whole_state_with_the_generators_continues_a_run_exactly(
    spec, packages, layout, leaks
) -> None:
    package = packages[layout]
    first, second = PATTERNS.inputs[:2], PATTERNS.inputs[2:4]
    labels = PATTERNS.labels

    with package.Network() as network:
        network.train(first, labels[:2])
        saved = network.state()
        straight = network.train(second, labels[2:4])
        expected = network.state()
    with package.Network() as network:
        network.set_state(saved)
        resumed = network.train(second, labels[2:4])
        state = network.state()
    reference = Simulator(compile_file(spec).network)
    reference.train(first, labels[:2], "task")

    np.testing.assert_array_equal(resumed, straight)
    for name, value in expected.items():
        np.testing.assert_array_equal(state[name], value, err_msg=name)
    for name, value in reference.state().items():
        if name.startswith("rng:"):
            np.testing.assert_array_equal(saved[name], value, err_msg=name)
