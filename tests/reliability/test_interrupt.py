"""Interrupting ``mcdlc train`` loses nothing; resuming gives the same numbers.

``mcdlc train`` runs in a process of its own and is sent SIGINT, SIGTERM or
SIGKILL in the middle of its second epoch. It must stop Lava (no worker
process and no shared-memory segment of the run is left), keep the last
complete checkpoint intact, and ``--resume`` must end exactly where a run
that was never interrupted ends: the same weights, traces, potentials,
filters and noise generators, the same validation after every epoch. A
checkpoint that is corrupt or belongs to another run is refused with a
message that names what does not fit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from mcdl.cli import main
from mcdl.train import loop

from .runs import marked_processes, quick_bars, shared_memory, small_dataset

pytestmark = [pytest.mark.lava]

ROOT = Path(__file__).resolve().parents[2]

_RUNNER = """
import os, sys
from lava.magma.runtime.message_infrastructure import shared_memory_manager as m
create = m.SharedMemoryManager.create_shared_memory
log = open(os.environ["MCDL_SHM_LOG"], "a")
def recorded(self, size):
    handle = create(self, size)
    log.write(handle.name.lstrip("/") + "\\n")
    log.flush()
    return handle
m.SharedMemoryManager.create_shared_memory = recorded
from mcdl.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""``mcdlc`` with a log of the shared-memory segments Lava creates."""


def train_arguments(setup: dict, run_dir: Path, *extra: str) -> list[str]:
    return [
        "train",
        str(setup["spec"]),
        "--dataset",
        str(setup["dataset"]),
        "--run-dir",
        str(run_dir),
        "--validate-every",
        "40",
        *extra,
    ]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    """A spec of three epochs, its dataset, and the run never interrupted."""
    folder = tmp_path_factory.mktemp("interrupt")
    spec = quick_bars(folder, pattern_ms=100, epochs=3)
    dataset = small_dataset(folder / "small.npz", train=40, test=3)
    found = {"folder": folder, "spec": spec, "dataset": dataset}
    assert main(train_arguments(found, folder / "straight")) == 0
    found["straight"] = loop.read_checkpoint(folder / "straight" / loop.CHECKPOINT)
    return found


def interrupted(setup: dict, run_dir: Path, signum: int) -> dict:
    """Run ``mcdlc train`` and send ``signum`` in its second epoch."""
    marker = uuid.uuid4().hex
    log = run_dir.parent / f"{run_dir.name}-segments.txt"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MCDL_RUN_MARKER": marker,
        "MCDL_SHM_LOG": str(log),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, *train_arguments(setup, run_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    checkpoint = run_dir / loop.CHECKPOINT
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the first epoch never finished"
        time.sleep(0.05)
    time.sleep(0.4)
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        raise
    return {
        "status": proc.returncode,
        "stderr": stderr,
        "seconds": time.monotonic() - sent,
        "marker": marker,
        "segments": log.read_text().split() if log.exists() else [],
    }


def assert_nothing_left(run: dict) -> None:
    deadline = time.monotonic() + 10
    while marked_processes(run["marker"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked_processes(run["marker"]) == set(), "worker processes outlived"
    assert run["segments"], "the run created no shared memory to account for"
    assert set(run["segments"]) & shared_memory() == set()


def assert_same_epochs(history: loop.History, straight: loop.History) -> None:
    count = len(history.epochs)
    assert count >= 1
    for ours, theirs in zip(history.epochs, straight.epochs[:count], strict=True):
        assert (ours.phase, ours.epoch, ours.loss, ours.accuracy) == (
            theirs.phase,
            theirs.epoch,
            theirs.loss,
            theirs.accuracy,
        )


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_stops_training_cleanly_and_resume_gives_the_same_run(
    setup: dict, tmp_path: Path, signum: int, status: int, record_property
) -> None:
    run_dir = tmp_path / "run"

    run = interrupted(setup, run_dir, signum)

    record_property("seconds", round(run["seconds"], 3))
    record_property("segments", len(run["segments"]))

    assert run["status"] == status, run["stderr"]
    assert "Traceback" not in run["stderr"]
    assert run["seconds"] < 15
    assert_nothing_left(run)
    history, _ = loop.read_checkpoint(run_dir / loop.CHECKPOINT)
    record_property("epochs", len(history.epochs))
    straight_history, straight_state = setup["straight"]
    assert_same_epochs(history, straight_history)
    assert len(history.epochs) < 3
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []

    assert main(train_arguments(setup, run_dir, "--resume")) == 0

    resumed_history, resumed_state = loop.read_checkpoint(run_dir / loop.CHECKPOINT)
    assert_same_epochs(resumed_history, straight_history)
    assert len(resumed_history.epochs) == 3
    assert resumed_history.curve == straight_history.curve
    assert set(resumed_state) == set(straight_state)
    assert any(name.startswith("rng:") for name in straight_state)
    for name, value in straight_state.items():
        np.testing.assert_array_equal(resumed_state[name], value, err_msg=name)


@pytest.mark.timeout(180)
def test_sigkill_keeps_the_last_checkpoint_and_leaves_no_workers(
    setup: dict, tmp_path: Path, record_property
) -> None:
    run_dir = tmp_path / "run"

    run = interrupted(setup, run_dir, signal.SIGKILL)

    record_property("seconds", round(run["seconds"], 3))
    record_property("segments", len(run["segments"]))

    assert run["status"] == -signal.SIGKILL
    assert_nothing_left(run)
    history, state = loop.read_checkpoint(run_dir / loop.CHECKPOINT)
    record_property("epochs", len(history.epochs))
    assert_same_epochs(history, setup["straight"][0])
    assert set(state) == set(setup["straight"][1])


# -- Checkpoints that do not fit (on the simulator: no Lava needed) --------------


@pytest.fixture
def sim_run(tmp_path: Path) -> dict:
    spec = quick_bars(tmp_path, pattern_ms=10, epochs=2)
    found = {
        "spec": spec,
        "dataset": small_dataset(tmp_path / "small.npz", train=6, test=3),
        "run": tmp_path / "run",
    }
    assert main([*train_arguments(found, found["run"]), "--engine", "sim"]) == 0
    return found


def resume_sim(found: dict, capsys) -> tuple[int, str]:
    capsys.readouterr()
    status = main(
        [*train_arguments(found, found["run"]), "--engine", "sim", "--resume"]
    )
    return status, capsys.readouterr().err


def rewrite(path: Path, change) -> None:
    with np.load(path) as archive:
        entries = {name: archive[name] for name in archive.files}
    change(entries)
    np.savez(path, **entries)


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("truncate", "is not a readable checkpoint"),
        ("garbage", "is not a readable checkpoint"),
        ("no history", "no history"),
        ("bad history", "the history in"),
        ("missing", "missing ['W_up1']"),
        ("unknown", "unknown ['W_up9']"),
        ("shape", "W_up1 has shape (9, 30), the network needs (30, 9)"),
        ("nan", "hidden.pyr.soma holds values that are not finite"),
        ("generator", "rng:hidden.pyr: not the words of a generator's state"),
    ],
)
def test_a_damaged_checkpoint_is_refused_naming_what_does_not_fit(
    sim_run: dict, capsys, damage: str, words: str
) -> None:
    path = sim_run["run"] / loop.CHECKPOINT
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 64)
    else:

        def change(entries: dict) -> None:
            if damage == "no history":
                del entries["__history__"]
            elif damage == "bad history":
                entries["__history__"] = np.array("{not json")
            elif damage == "missing":
                del entries["W_up1"]
            elif damage == "unknown":
                entries["W_up9"] = entries["W_up1"]
            elif damage == "shape":
                entries["W_up1"] = entries["W_up1"].T
            elif damage == "nan":
                entries["hidden.pyr.soma"] = entries["hidden.pyr.soma"] * np.nan
            elif damage == "generator":
                entries["rng:hidden.pyr"] = entries["rng:hidden.pyr"] + 0.5

        rewrite(path, change)

    status, stderr = resume_sim(sim_run, capsys)

    assert status == 1
    assert words in stderr
    assert "Traceback" not in stderr


def test_a_checkpoint_of_another_spec_is_refused(sim_run: dict, capsys) -> None:
    spec = sim_run["spec"]
    spec.write_text(spec.read_text().replace("seed = 1\n", "seed = 2\n"))

    status, stderr = resume_sim(sim_run, capsys)

    assert status == 1
    assert "another version of the spec" in stderr


def test_the_simulator_resumes_exactly_too(tmp_path: Path) -> None:
    spec = quick_bars(tmp_path, pattern_ms=10, epochs=3)
    found = {"spec": spec, "dataset": small_dataset(tmp_path / "d.npz", 6, 3)}
    sim = ["--engine", "sim"]
    assert main([*train_arguments(found, tmp_path / "a"), *sim]) == 0
    assert main([*train_arguments(found, tmp_path / "b"), *sim, "--epochs", "1"]) == 0
    weights_only = tmp_path / "c"
    assert main([*train_arguments(found, weights_only), *sim, "--epochs", "1"]) == 0
    (weights_only / loop.CHECKPOINT).unlink()

    for run in ("b", "c"):
        arguments = [*train_arguments(found, tmp_path / run), *sim, "--resume"]
        assert main([*arguments, "--epochs", "3"]) == 0

    _, straight = loop.read_checkpoint(tmp_path / "a" / loop.CHECKPOINT)
    _, resumed = loop.read_checkpoint(tmp_path / "b" / loop.CHECKPOINT)
    _, from_weights = loop.read_checkpoint(weights_only / loop.CHECKPOINT)
    for name, value in straight.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)
    assert not np.array_equal(from_weights["W_up1"], straight["W_up1"]), (
        "resuming from the weights alone should differ, or the test shows nothing"
    )
