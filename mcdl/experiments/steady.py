"""The steady-state approximation of a network, as another network.

The paper trains its MNIST network "with a steady-state approximation of the
dynamics": every pattern is presented long enough for the potentials to
settle, so the dynamics can be replaced by their fixed point. Here that
approximation is itself a network-level IR, made from the spec's network by
``steady_state``, so that it runs unchanged on ``mcdl.sim`` and on the
generated Lava code:

* the integration is ``exponential`` with a time step ``dt`` that is the
  plastic part of a pattern divided by ``plastic_steps`` (80 ms for a 100 ms
  pattern settling for 20 ms): ``exp(-dt G / C)`` is then 0 to double
  precision for every compartment, so each step sets every potential to its
  equilibrium ``u_inf = A / G`` given the other values of the step before,
  which is one Jacobi iteration towards the network's fixed point (with a
  shorter ``dt``, where ``exp(-dt G / C)`` is not 0, a damped one: it
  converges to the same fixed point);
* a pattern is ``relax`` such steps with plasticity off (the settling time)
  followed by ``plastic_steps`` steps with plasticity on; the read-out is the
  last step;
* inputs and targets are not filtered (``lowpass = 0``), noise is off, and
  the rules lose their low-pass, so a plastic step moves every weight by
  ``dt * e`` with ``e`` the rule evaluated at the fixed point: the integral
  of the update over the plastic part of the pattern had the network sat at
  its fixed point throughout.

``docs/semantics.md`` ("The steady-state approximation") compares the two.
"""

from __future__ import annotations

from mcdl import ir

RELAX = 30
"""Jacobi iterations per pattern before plasticity is switched on."""

PLASTIC_STEPS = 4
"""Plastic steps per pattern: each moves the weights by a quarter of the
pattern's update, so that large learning rates do not overshoot."""


def steady_state(
    network: ir.Network, *, relax: int = RELAX, plastic_steps: int = PLASTIC_STEPS
) -> ir.Network:
    """Return the steady-state approximation of ``network``.

    Args:
        network: the checked network (its protocol gives the pattern and
            settling times).
        relax: the non-plastic relaxation steps per pattern.
        plastic_steps: the plastic steps per pattern; the plastic time
            ``pattern - settle`` is split evenly between them.

    Raises:
        ValueError: a count is not positive, or a compartment has a
            ``current`` (the exponential update needs linear dynamics).
    """
    if relax < 1 or plastic_steps < 1:
        raise ValueError("relax and plastic_steps must be at least 1")
    protocol = network.protocol
    dt = (protocol.pattern - protocol.settle) / plastic_steps
    populations = []
    for population in network.populations:
        compartments = []
        for compartment in population.compartments:
            if compartment.current is not None:
                raise ValueError(
                    f"{population.name}.{compartment.name} has a current: the "
                    "steady-state approximation needs linear compartments"
                )
            compartments.append(compartment.model_copy(update={"noise": 0.0}))
        populations.append(
            population.model_copy(update={"compartments": tuple(compartments)})
        )
    projections = [
        p
        if p.plasticity is None
        else p.model_copy(
            update={"plasticity": p.plasticity.model_copy(update={"lowpass": None})}
        )
        for p in network.projections
    ]
    phases = tuple(p.model_copy(update={"noise": False}) for p in protocol.phases)
    steady = protocol.model_copy(
        update={
            "pattern": (relax + plastic_steps) * dt,
            "settle": relax * dt,
            "readout": dt,
            "lowpass": 0.0,
            "phases": phases,
        }
    )
    return network.model_copy(
        update={
            "dt": dt,
            "integration": "exponential",
            "populations": tuple(populations),
            "projections": tuple(projections),
            "protocol": steady,
        }
    )
