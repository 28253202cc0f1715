"""Recording chosen variables of a simulation, per step or per pattern."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

import numpy as np


class Recorder:
    """Copies of chosen variables, taken at the end of every step or pattern.

    Names are the simulator's stable names: potentials (``"hidden.pyr.soma"``),
    dendrites (``"hidden.pyr.basal"``), rates (``"hidden.pyr.rate"``), the
    filtered input and target (``"x.rate"``, ``"output.pyr.target"``),
    weights (``"W_up1"``) and traces (``"D:W_up1"``). Potentials, weights,
    traces and the filters are taken as they are at the end of the step
    (step ``n+1``); rates and dendrites are those the step computed from
    step ``n``.

    Args:
        names: the variables to record.
        every: ``"step"`` records after every time step, ``"pattern"`` after
            the last step of every pattern.
    """

    def __init__(
        self, names: Iterable[str], every: Literal["step", "pattern"] = "pattern"
    ) -> None:
        if every not in ("step", "pattern"):
            raise ValueError(f"every must be 'step' or 'pattern', not {every!r}")
        self.names = tuple(names)
        self.every = every
        self._rows: dict[str, list[np.ndarray]] = {name: [] for name in self.names}

    def take(self, current: Callable[[str], np.ndarray]) -> None:
        """Append a copy of every recorded variable; ``current`` looks one up."""
        for name in self.names:
            self._rows[name].append(np.array(current(name), dtype=np.float64))

    def arrays(self) -> dict[str, np.ndarray]:
        """Return each variable's records stacked: shape ``(records, *shape)``."""
        return {name: np.array(rows) for name, rows in self._rows.items()}

    def __len__(self) -> int:
        """The number of records taken so far."""
        return len(self._rows[self.names[0]]) if self.names else 0
