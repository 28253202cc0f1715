"""The fused layout runs a bars pattern about as fast as a plain numpy loop.

Run with ``-s`` to see the times. Both are measured in turn, several times,
and the best of each is compared, so that other load on the machine counts
against both alike.
"""

from __future__ import annotations

import time

import pytest

from mcdl.data import bars as bars_data

from .conftest import bars_network
from .test_lava import numpy_bars

pytestmark = [pytest.mark.lava, pytest.mark.slow]


@pytest.mark.timeout(600)
def test_fused_is_within_a_factor_of_a_numpy_loop(build) -> None:
    network = bars_network()
    package = build(network, "fused")
    data = bars_data(samples_per_class=4, seed=0)
    targets = package.target_potentials(data.labels)
    learn = network.protocol.phases[0].learn
    count = len(data.inputs)
    numpy_times, lava_times = [], []
    with package.Network() as lava:
        lava.train(data.inputs[:1], data.labels[:1])
        for _ in range(3):
            started = time.perf_counter()
            numpy_bars(network, data.inputs, targets, learn)
            numpy_times.append((time.perf_counter() - started) / count)
            started = time.perf_counter()
            lava.train(data.inputs, data.labels)
            lava_times.append((time.perf_counter() - started) / count)
    numpy_ms, lava_ms = 1e3 * min(numpy_times), 1e3 * min(lava_times)
    print(
        f"\nbars, ms per pattern: numpy loop {numpy_ms:.1f}, fused Lava {lava_ms:.1f}"
    )
    assert lava_ms < 2.0 * numpy_ms
