"""A loihi package's run that fails is an error within seconds, never a hang.

Faults are injected into the models of the short bars network's packages,
in both layouts: an exception in the middle of a run, and a model that
sleeps. Each must reach the caller as the package's ``NetworkError``, the
first naming the process within seconds, the second once the timeout has
passed; no worker process and no shared-memory segment of the run may
outlive it, and the network keeps the state it had before the run.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import numpy as np
import pytest
from reliability.runs import Leaks

from mcdl import data

from .helpers import import_package, write_package

SECONDS = 10.0
"""How soon a failure must reach the caller; each test records its time."""

FAULTS = [
    ("fused", "PyBarsLoihiModel", "_step", "BarsLoihi"),
    ("layered", "PyBarsHiddenPyrModel", "run_spk", "BarsHiddenPyr"),
]
"""Per layout: the model given the fault, its method, and the model's process."""

PATTERNS = data.bars(2)


class Fault(NamedTuple):
    """Where a fault goes: a package, one of its models and that model's method."""

    package: ModuleType
    model: str
    method: str
    process: str

    def inject(self, monkeypatch, replacement) -> None:
        """Put ``replacement`` in the place of the method, in every worker."""
        model = getattr(self.package.models, self.model)
        monkeypatch.setattr(model, self.method, replacement)


@pytest.fixture(scope="module")
def packages(short_network, tmp_path_factory) -> dict[str, ModuleType]:
    root = Path(tmp_path_factory.mktemp("packages"))
    return {
        layout: import_package(write_package(short_network, layout, root), "bars")
        for layout, *_ in FAULTS
    }


@pytest.fixture(params=FAULTS, ids=[layout for layout, *_ in FAULTS])
def fault(request, packages) -> Fault:
    layout, model, method, process = request.param
    return Fault(packages[layout], model, method, process)


@pytest.fixture
def leaks(monkeypatch) -> Leaks:
    watched = Leaks(monkeypatch)
    yield watched
    assert watched.segments, "the accounting saw no shared memory of the run"
    workers, segments = watched.left()
    assert not workers, f"worker processes outlived the run: {workers}"
    assert not segments, f"shared memory outlived the run: {segments}"


def same_state(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(
        np.array_equal(first[name], second[name]) for name in first
    )


@pytest.mark.lava
@pytest.mark.timeout(120)
def test_an_exception_in_a_model_names_its_process_and_the_network_goes_on(
    fault, monkeypatch, leaks, record_property
) -> None:
    armed = [True]
    original = getattr(fault.package.models, fault.model).__dict__[fault.method]

    def explode(self, *args) -> None:
        if armed[0]:
            raise ZeroDivisionError(f"injected into {type(self).__name__}")
        original(self, *args)

    fault.inject(monkeypatch, explode)
    network = fault.package.Network()
    before = network.state()
    started = time.monotonic()

    with pytest.raises(fault.package.NetworkError) as caught:
        network.train(PATTERNS.inputs, PATTERNS.labels)

    seconds = time.monotonic() - started
    record_property("seconds", round(seconds, 3))
    assert seconds < SECONDS
    assert caught.value.process == f"the Lava process {fault.process} ({fault.model})"
    cause = f"ZeroDivisionError: injected into {fault.model}"
    assert f"{caught.value.process} failed: {cause}" in str(caught.value)
    assert same_state(network.state(), before)
    assert (network.step, network.patterns) == (0, 0)

    armed[0] = False
    network.train(PATTERNS.inputs, PATTERNS.labels)
    assert network.patterns == len(PATTERNS.inputs)
    assert not same_state(network.state(), before)


@pytest.mark.lava
@pytest.mark.timeout(120)
def test_a_model_that_hangs_is_stopped_after_the_timeout(
    fault, monkeypatch, leaks, record_property
) -> None:
    def hang(self, *args) -> None:
        time.sleep(3600)

    fault.inject(monkeypatch, hang)
    network = fault.package.Network(timeout=2.0)
    before = network.state()
    started = time.monotonic()

    with pytest.raises(fault.package.NetworkError, match="sent nothing for 2 s"):
        network.train(PATTERNS.inputs, PATTERNS.labels)

    seconds = time.monotonic() - started
    record_property("seconds", round(seconds, 3))
    assert 2 < seconds < SECONDS
    assert same_state(network.state(), before)
