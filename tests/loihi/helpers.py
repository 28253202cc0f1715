"""Helpers of the loihi target's tests: the bars network, packages, comparisons."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mcdl import ir
from mcdl.codegen.loihi import render_loihi_package
from mcdl.init import initial_weights
from mcdl.passes.lower_loihi import LoihiPlan, lower_loihi

DATA = Path(__file__).resolve().parents[1] / "data" / "bars_network.json"


def bars() -> ir.Network:
    """The bars network's IR (the stored copy the other tests use too)."""
    return ir.Network.model_validate_json(DATA.read_text(encoding="utf-8"))


def short(network: ir.Network, pattern: float = 10.0) -> ir.Network:
    """``network`` with patterns of ``pattern`` ms (settle and read-out 2 ms)."""
    protocol = network.protocol.model_copy(
        update={"pattern": pattern, "settle": 2.0, "readout": 2.0}
    )
    return network.model_copy(update={"protocol": protocol})


def lowered(network: ir.Network) -> LoihiPlan:
    plan, diagnostics = lower_loihi(network, initial_weights(network))
    assert plan is not None, [d.message for d in diagnostics]
    return plan


def write_package(network: ir.Network, layout: str, root: Path) -> Path:
    """Render and write ``network``'s loihi package under ``root``; import path."""
    files = render_loihi_package(network, initial_weights(network), layout)
    package = root / layout / network.name
    for relative, data in files.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return package.parent


def import_package(parent: Path, name: str):
    """Import the generated package ``name`` from ``parent`` (fresh)."""
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]
    sys.path.insert(0, str(parent))
    try:
        __import__(f"{name}.network")
        return sys.modules[f"{name}.network"]
    finally:
        sys.path.remove(str(parent))


def same_state(plan: LoihiPlan, state: dict, sim) -> list[str]:
    """Names of the package's state arrays that differ from the simulator's."""
    differ = []
    pops = {p.name.replace(".", "_"): p.name for p in plan.populations}
    projections = {
        "".join(c if c.isalnum() else "_" for c in p.name).strip("_"): p.name
        for p in plan.projections
    }
    for name, array in state.items():
        if name.startswith("u_"):
            pid, comp = name[2:].rsplit("_", 1)
            reference = sim.u[pops[pid]][comp]
        elif name.startswith("w_"):
            reference = sim.w[projections[name[2:]]]
        elif name.startswith("tag_"):
            reference = sim.engines[projections[name[4:]]].tag
        elif name.startswith("d_"):
            reference = sim.engines[projections[name[2:]]].residual
        else:
            continue
        if not np.array_equal(np.asarray(array), reference):
            differ.append(name)
    return differ
