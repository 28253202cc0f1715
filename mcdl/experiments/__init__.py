"""The experiments of Sacramento et al. (2018), run from their specs.

Each module runs one experiment from a spec in ``specs/`` on ``mcdl.sim`` or
on the generated Lava code, writes its figure and its numbers (a JSON file)
into a run folder, and logs its progress and a summary; ``docs/results.md``
lists the commands and what they measured.

* ``self_predicting``: learning the self-predicting state from random
  inputs (``specs/self_predicting.mcdl``);
* ``regression``: the nonlinear regression of the paper's Fig. 2, the
  microcircuit against a shallow learner (``specs/regression.mcdl``);
* ``digits``: two hidden layers on scikit-learn's 8x8 digits, against an MLP
  trained by backprop (``specs/digits.mcdl``);
* ``steady``: the steady-state approximation of a network's dynamics, a
  faster way to run any of them;
* ``common``: what the drivers share: the engines, timed training, the
  closed-form lateral weights, the command line, logging, saving a run.
"""
