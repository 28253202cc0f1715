"""Checking the loihi target: Lava against the integer reference, fixed against float.

Two questions, two comparisons:

* **Is the generated code right?** The loihi package (fused or chip-mapped)
  and ``mcdl.sim.fixed`` run the same training patterns from the same
  lowered state; every integer of the state must be equal afterwards, and
  every read-out. Deviations are in integer units and must be 0.
* **What does fixed point cost?** ``mcdl.sim.fixed`` and the float
  reference ``mcdl.sim`` run the same patterns from the same weights (the
  float run starts from the quantised initial weights, so that only the
  arithmetic differs). The deviations, in the float units of each variable,
  are reported, not bounded: they are what Loihi 2's formats do to the
  model. The hidden layer's somatic potentials are sampled on both sides
  during the first patterns for the overlay figure.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mcdl import ir
from mcdl.codegen.loihi import ident
from mcdl.init import initial_weights
from mcdl.passes.lower_loihi import LoihiPlan, LoweringError, lower_loihi
from mcdl.sim import Recorder, Simulator
from mcdl.sim.fixed import FixedSimulator
from mcdl.train import engines
from mcdl.verify import Comparison, data_phase, probe_population, training_set


def lower(
    network: ir.Network, spec: Path, *, allow_outside: bool = False
) -> tuple[LoihiPlan, dict[str, np.ndarray]]:
    """The plan of ``network`` and the float weights it was lowered from.

    Raises:
        LoweringError: the network does not fit the chip.
    """
    weights = initial_weights(network, spec.parent, allow_outside=allow_outside)
    plan, diagnostics = lower_loihi(network, weights)
    if plan is None:
        raise LoweringError(diagnostics)
    return plan, weights


def verify_package(
    network: ir.Network,
    spec: Path,
    layout: str,
    patterns: int,
    *,
    allow_outside: bool = False,
) -> Comparison:
    """Train ``patterns`` patterns on the loihi package and on mcdl.sim.fixed.

    Every integer state variable and the read-outs are compared; each
    deviation is the largest absolute difference, in integer units.
    """
    plan, weights = lower(network, spec, allow_outside=allow_outside)
    inputs, labels = training_set(network, patterns)
    phase = data_phase(network)
    comparison = Comparison(f"loihi {layout}", len(inputs))
    reference = FixedSimulator(network, plan=plan)
    reference.train(inputs, labels, phase)
    with tempfile.TemporaryDirectory(prefix="mcdl-verify-") as folder:
        package = engines.build_package(
            network, spec, Path(folder), layout, "loihi", allow_outside=allow_outside
        )
        module = engines.load_package(package)
        with module.Network() as net:
            net.train(inputs, labels, phase=phase)
            state = net.state()
            if hasattr(net, "evaluate"):
                validation = inputs[: min(8, len(inputs))]
                got = net.evaluate(validation, labels[: len(validation)])
                want = reference.evaluate(validation, labels[: len(validation)])
                comparison.note("read-out (evaluation)", got.readouts, want[2])
    for name, value in _reference_state(plan, reference).items():
        comparison.note(name, state[name], value)
    return comparison


def _reference_state(plan: LoihiPlan, sim: FixedSimulator) -> dict[str, np.ndarray]:
    """The reference's state by the package's names (``STATE``).

    Potentials, weights, tags and residuals: what both layouts read back
    from Lava (rates, filters and traces follow from them).
    """
    state = {}
    for pop in plan.populations:
        if pop.is_input:
            continue
        for compartment, value in sim.u[pop.name].items():
            state[f"u_{ident(pop.name)}_{ident(compartment)}"] = value
    for projection in plan.projections:
        pid = ident(projection.name)
        state[f"w_{pid}"] = sim.w[projection.name]
        engine = sim.engines.get(projection.name)
        if engine is not None:
            state[f"tag_{pid}"] = engine.tag
            state[f"d_{pid}"] = engine.residual
    return state


def verify_fixed(
    network: ir.Network,
    spec: Path,
    patterns: int,
    *,
    plotted: int = 3,
    probe_every: int = 10,
    progress: Callable[[str], None] | None = None,
    allow_outside: bool = False,
) -> Comparison:
    """Train ``patterns`` patterns in fixed point and in float; the deviations.

    Deviations are in float units: the read-outs after every pattern, the
    sampled somatic potentials of the probed population during the first
    ``plotted`` patterns, and every weight after the last pattern (and its
    Frobenius norm relative to the float weights' change, as ``W ... (rel.
    change)``).
    """
    plan, _ = lower(network, spec, allow_outside=allow_outside)
    inputs, labels = training_set(network, patterns)
    phase = data_phase(network)
    probe = probe_population(network)
    comparison = Comparison(
        "fixed vs float",
        len(inputs),
        probe=probe,
        probe_every=probe_every,
        sides=("loihi fixed point", "float (mcdl.sim)"),
    )
    fixed = FixedSimulator(network, plan=plan)
    start = fixed.weights()
    floating = Simulator(network, _with(initial_weights(network), start))
    for index in range(len(inputs)):
        one = slice(index, index + 1)
        sampled = index < plotted
        records = (None, None)
        if sampled:
            records = (Recorder([probe], "step"), Recorder([probe], "step"))
        got = fixed.train(inputs[one], labels[one], phase, record=records[0])
        want = floating.train(inputs[one], labels[one], phase, record=records[1])
        comparison.note("read-out", got, want)
        if sampled:
            fixed_trace, trace = (
                r.arrays()[probe][probe_every - 1 :: probe_every] for r in records
            )
            comparison.note(f"{probe} (sampled)", fixed_trace, trace)
            for side, values in (("lava", fixed_trace), ("sim", trace)):
                old = comparison.traces.get(side)
                comparison.traces[side] = (
                    values if old is None else np.vstack([old, values])
                )
        if progress is not None and (index + 1) % 10 == 0:
            progress(f"fixed vs float: {index + 1}/{len(inputs)} patterns")
    ended, float_ended = fixed.weights(), floating.weights()
    for name, value in ended.items():
        comparison.note(name, value, float_ended[name])
        moved = np.linalg.norm(float_ended[name] - start[name])
        if moved > 0:
            relative = np.linalg.norm(value - float_ended[name]) / moved
            comparison.deviations[f"{name} (rel. change)"] = float(relative)
    return comparison


def _with(weights: dict, replaced: dict) -> dict:
    """``weights`` with the arrays of ``replaced`` where both have a name."""
    return {name: replaced.get(name, array) for name, array in weights.items()}
