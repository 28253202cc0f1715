"""The bars network learns the bars task (model.md §5)."""

from __future__ import annotations

import pytest

from mcdl import data
from mcdl.sim import Simulator

from .networks import bars_network

TRAIN = data.bars()
VALIDATION = data.bars_validation()


def test_a_few_hundred_bars_improve_the_validation_accuracy():
    sim = Simulator(bars_network())
    before = sim.evaluate(VALIDATION.inputs, VALIDATION.labels)

    sim.train(TRAIN.inputs[:300], TRAIN.labels[:300], "task")

    after = sim.evaluate(VALIDATION.inputs, VALIDATION.labels)
    assert after.accuracy >= before.accuracy + 0.25
    assert after.loss < before.loss / 10


@pytest.mark.slow
def test_one_epoch_of_bars_reaches_full_validation_accuracy():
    sim = Simulator(bars_network())

    result = sim.run_phase(
        "task",
        (TRAIN.inputs, TRAIN.labels),
        validation=(VALIDATION.inputs, VALIDATION.labels),
    )

    assert len(result.readouts) == 1500
    assert result.validation[-1].accuracy == 1.0
