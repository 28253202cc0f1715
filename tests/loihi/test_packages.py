"""The generated packages: files, determinism, style, and Lava against mcdl.sim.

The fused layout's Lava model and the chip-mapped (layered) layout, with
Lava's own ``Dense`` and ``LearningDense``, must both give exactly the
integers of ``mcdl.sim.fixed`` on a short training run: potentials, weights
and tags, bit for bit. Every Lava run has a timeout, because a failing Lava
process can leave the others waiting.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mcdl import data
from mcdl.codegen.loihi import render_loihi_package
from mcdl.init import initial_weights
from mcdl.sim.fixed import FixedSimulator

from .helpers import import_package, lowered, same_state, write_package

EXPECTED = {
    "README.md",
    "__init__.py",
    "kernel.py",
    "models.py",
    "network.json",
    "network.py",
    "plan.json",
    "process.py",
    "quantisation.json",
    "quantisation.md",
    "resources.json",
    "supervision.py",
}


@pytest.mark.parametrize("layout", ["fused", "layered"])
def test_the_package_has_its_files_and_is_deterministic(bars_network, layout) -> None:
    weights = initial_weights(bars_network)
    first = render_loihi_package(bars_network, weights, layout)
    second = render_loihi_package(bars_network, weights, layout)
    assert set(first) == EXPECTED
    assert first == second
    assert b"/work/" not in b"".join(first.values())


@pytest.mark.parametrize("layout", ["fused", "layered"])
def test_the_package_is_ruff_clean(bars_network, layout, tmp_path) -> None:
    parent = write_package(bars_network, layout, tmp_path)
    package = parent / bars_network.name
    config = f"lint.isort.known-first-party=['{bars_network.name}']"
    for args in (
        ["check", "--select", "E,F,W,I,B,UP", "--target-version", "py310"],
        ["format", "--check"],
    ):
        command = [sys.executable, "-m", "ruff", *args, "--isolated", "--no-cache"]
        command += ["--config", config] if args[0] == "check" else []
        result = subprocess.run(
            [*command, str(package)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.lava
@pytest.mark.timeout(300)
def test_fused_lava_equals_the_integer_reference(short_network, tmp_path) -> None:
    plan = lowered(short_network)
    module = import_package(write_package(short_network, "fused", tmp_path), "bars")
    train, validation = data.bars(2), data.bars_validation()
    network = module.Network()
    network.train(train.inputs, train.labels)
    sim = FixedSimulator(short_network, plan=plan)
    sim.train(train.inputs, train.labels, "task")
    assert same_state(plan, network.state(), sim) == []
    assert network.step == sim.k
    lava = network.evaluate(validation.inputs, validation.labels)
    reference = sim.evaluate(validation.inputs, validation.labels)
    assert np.array_equal(lava.readouts, reference[2])
    assert same_state(plan, network.state(), sim) == []


@pytest.mark.lava
@pytest.mark.timeout(300)
def test_chip_layout_equals_the_integer_reference(short_network, tmp_path) -> None:
    """Lava's LearningDense with the lowered rule learns what mcdl.sim computes."""
    plan = lowered(short_network)
    module = import_package(write_package(short_network, "layered", tmp_path), "bars")
    train = data.bars(2)
    network = module.Network()
    network.train(train.inputs, train.labels)
    sim = FixedSimulator(short_network, plan=plan)
    sim.train(train.inputs, train.labels, "task")
    assert same_state(plan, network.state(), sim) == []
    plastic = [p.name for p in plan.projections if p.plastic]
    moved = [
        name for name in plastic if np.any(sim.w[name] != plan.projection(name).weights)
    ]
    assert moved, "the run is too short to test learning"
