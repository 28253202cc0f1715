"""The numpy reference simulator of mcdl.

``Simulator`` interprets a network-level IR (``mcdl.ir.Network``) as
``docs/semantics.md`` defines it, in plain numpy and independently of any
generated code: every backend is tested against it.

* ``mcdl.sim.expr`` turns IR expressions into numpy computations;
* ``mcdl.sim.build`` checks a network and lays out its state once: names,
  views of one value buffer, the terms of every compartment, compiled rules;
* ``mcdl.sim.dynamics`` holds the parts of one time step;
* ``mcdl.sim.simulator`` runs steps and patterns;
* ``mcdl.sim.protocol`` trains, evaluates and runs protocol phases, for the
  float and the integer (``mcdl.sim.fixed``) simulator alike;
* ``mcdl.sim.record`` records chosen variables per step or per pattern.

Typical use::

    sim = Simulator(network)
    sim.run_phase("task", (inputs, labels), validation=(val_inputs, val_labels))
    loss, accuracy, readouts = sim.evaluate(val_inputs, val_labels)
"""

from mcdl.sim.build import check_network
from mcdl.sim.dynamics import SimError
from mcdl.sim.expr import ExprError, compile_expr, evaluate
from mcdl.sim.protocol import Evaluation, PhaseResult
from mcdl.sim.record import Recorder
from mcdl.sim.simulator import NonFiniteError, Simulator

__all__ = [
    "Evaluation",
    "ExprError",
    "NonFiniteError",
    "PhaseResult",
    "Recorder",
    "SimError",
    "Simulator",
    "check_network",
    "compile_expr",
    "evaluate",
]
