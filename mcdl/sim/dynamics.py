"""The parts of one time step, prepared once per network.

Each class is one part of "One time step" in ``docs/semantics.md``, working in
place on preallocated arrays so that a step allocates little and spends its
time in numpy:

* ``Drive`` and ``Dendrite``: step 3, a dendrite's weighted sum;
* ``Integration``: step 4, every integrating compartment at once;
* ``Learning`` and ``Consolidation``: step 5, the update ``e`` of a
  projection, then ``D`` and ``W``.

All vectors live in views of one buffer (see ``mcdl.sim.build``), so a part
reads the live values of the step through views it was given once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from mcdl.sim.expr import Getter


class SimError(ValueError):
    """A network the reference simulator cannot run, with the reason."""


@dataclass(eq=False)
class Drive:
    """One projection's input to a compartment: ``W @ s`` or, one to one, ``W * s``."""

    weights: np.ndarray
    signal: np.ndarray
    one_to_one: bool

    def value(self) -> np.ndarray:
        """Return the drive as a new array."""
        if self.one_to_one:
            return self.weights * self.signal
        return self.weights @ self.signal

    def writer(self, out: np.ndarray) -> Callable[[], np.ndarray]:
        """Return a function that writes the drive into ``out``."""
        if self.one_to_one:
            return partial(np.multiply, self.weights, self.signal, out=out)
        return partial(np.dot, self.weights, self.signal, out=out)


@dataclass(eq=False)
class Dendrite:
    """An instantaneous compartment: ``v`` is the sum of its drives, or 0."""

    name: str
    potential: np.ndarray
    drives: list[Drive]
    update: Callable[[], object] = field(init=False)

    def __post_init__(self) -> None:
        if not self.drives:
            self.update = _nothing
            return
        first, *self._others = self.drives
        self._first = first.writer(self.potential)
        self.update = self._sum if self._others else self._first

    def _sum(self) -> None:
        self._first()
        for drive in self._others:
            self.potential += drive.value()


def _nothing() -> None:
    """A dendrite without projections stays at 0."""


@dataclass(eq=False)
class Terms:
    """The terms of every compartment's current for one setting of ``teach``.

    Row ``k`` of ``gain`` and of the integration's ``index`` is term ``k`` of
    every compartment at once: ``gain[k] * values[index[k]]``. The terms are
    the couplings ``g V_k`` and the nudgings ``g s`` that are on (0 where a
    compartment has fewer terms or a nudging is off); for forward Euler, row
    0 is also ``-G u``. ``conductance`` is ``G``, the leak plus every
    conductance that is on, and ``decay`` is ``exp(-dt G / C)``.
    """

    gain: np.ndarray
    conductance: np.ndarray
    decay: np.ndarray


@dataclass(eq=False)
class Integration:
    """Step 4 for every integrating compartment at once, in place.

    The current is written ``I = A - G u``: ``A`` gathers the terms ``g z``
    of the couplings and nudgings that are on, ``g_lk E`` and the direct
    currents ``W @ s``; ``G`` is the leak plus the conductances that are on.
    Splitting each ``g_k (V_k - u)`` into ``g_k V_k - g_k u`` changes only
    rounding. Then forward Euler ``u + (dt / C) (A - G u + current) + noise``,
    or the exact update ``u_inf + (u - u_inf) exp(-dt G / C) + noise`` with
    ``u_inf = A / G``.

    The conductance form of a nudging enters as ``g (s - u)``: with
    ``g_exc + g_inh = g`` and ``g_exc E_exc + g_inh E_inh = g s`` it is the
    same current.
    """

    values: np.ndarray
    potentials: np.ndarray
    index: np.ndarray
    teach: Terms
    free: Terms
    constant: np.ndarray | None
    step_over_capacitance: np.ndarray
    exponential: bool
    direct: list[tuple[np.ndarray, Drive]] = field(default_factory=list)
    currents: list[tuple[np.ndarray, Getter]] = field(default_factory=list)
    total: np.ndarray = field(init=False)
    gathered: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.total = np.zeros_like(self.potentials)
        self.gathered = np.zeros(self.index.shape)

    def advance(self, teach: bool, noise: np.ndarray | None) -> None:
        """Move the potentials from step ``n`` to step ``n+1``.

        Everything is computed from step-``n`` values before ``u`` changes.
        """
        inputs = self.teach if teach else self.free
        total, u = self.total, self.potentials
        self.values.take(self.index, out=self.gathered)
        self.gathered *= inputs.gain
        np.add.reduce(self.gathered, axis=0, out=total)
        if self.constant is not None:
            total += self.constant
        for view, drive in self.direct:
            view += drive.value()
        if self.exponential:
            total /= inputs.conductance
            u -= total
            u *= inputs.decay
            u += total
        else:
            for view, current in self.currents:
                view += current()
            total *= self.step_over_capacitance
            u += total
        if noise is not None:
            u += noise


@dataclass(eq=False)
class Learning:
    """The plasticity rule of one projection.

    ``compute`` evaluates the rule on the step-``n`` values and writes its
    update ``e`` into the projection's slice of the flat update buffer, in
    the shape of the weights, for ``Consolidation`` to apply.
    """

    name: str
    compute: Getter


@dataclass(eq=False)
class Consolidation:
    """``D`` and ``W`` of a run of projections that learn, updated together.

    The projections' weights, traces and updates are consecutive slices of
    flat buffers, so one run costs a few numpy operations however many
    projections it holds. With a low-pass: ``W <- W + dt D`` (the trace of
    step ``n``) and ``D <- D + (dt / tau_w) (e - D)``, ``gain`` holding
    ``dt / tau_w`` per weight. Without: ``W <- W + dt e``.
    """

    dt: float | np.ndarray
    weights: np.ndarray
    updates: np.ndarray
    scratch: np.ndarray
    traces: np.ndarray | None = None
    gain: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.dt = np.asarray(self.dt, dtype=np.float64)

    def apply(self) -> None:
        """Move the run's weights (and traces) one step."""
        if self.traces is None:
            np.multiply(self.updates, self.dt, out=self.scratch)
            self.weights += self.scratch
            return
        np.multiply(self.traces, self.dt, out=self.scratch)
        self.weights += self.scratch
        np.subtract(self.updates, self.traces, out=self.scratch)
        self.scratch *= self.gain
        self.traces += self.scratch
