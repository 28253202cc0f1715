"""The loihi back end: a lowered network rendered into a package of Lava code.

``render_loihi_package(network, weights, layout)`` lowers the network with
``mcdl.passes.lower_loihi`` and renders the files of a Python package, in
memory, with every ProcessModel tagged ``fixed_pt``:

* ``fused``: the whole network is one Lava process whose model runs the
  integer time step of ``docs/loihi.md`` for every population and emulates
  the learning engine (Lava's bit-approximate model of Loihi 2's) for every
  plastic projection; one Lava time step presents one pattern;
* ``layered`` (the chip-mapped layout): one process per population, a
  source process for the input, and for every projection Lava's own
  ``Dense`` (fixed) or ``LearningDense`` with a ``Loihi3FLearningRule``
  (plastic); one Lava time step is one time step of the network.

Both layouts compute the same integers; ``mcdl.sim.fixed`` is their
reference. The package also holds the plan (``plan.json``), the quantisation
report (``quantisation.json``, ``quantisation.md``) and the resource report
(``resources.json``, in the README).

The step code is written here, line by line, from the plan's numbers; the
templates in ``templates/loihi/`` place it and add the fixed parts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np

import mcdl
from mcdl import ir
from mcdl.codegen.environment import environment
from mcdl.passes.lower_loihi import (
    ACCUMULATOR,
    ACTIVATION_BITS,
    ACTIVATION_SHIFT,
    DECAY_BITS,
    FACTOR_WIDTHS,
    PREDICTION_BITS,
    RATE_BITS,
    RESIDUAL_OFFSET,
    STATE_BITS,
    SYNAPSE_SHIFT,
    TABLE_FRACTION,
    TAG_MAX,
    TAG_MIN,
    TRACE_BITS,
    WEIGHT_MAX,
    WEIGHT_MIN,
    LoihiPlan,
    LoweringError,
    Pin,
    lower_loihi,
)

__all__ = ["LAYOUTS", "LoweringError", "render_loihi_package"]

LAYOUTS = ("fused", "layered")

_ACC_MIN, _ACC_MAX = -(2**ACCUMULATOR) - 1, 2**ACCUMULATOR - 1

_TEMPLATES = {
    "fused": {
        "__init__.py": "loihi/package_init.py.j2",
        "process.py": "loihi/fused_process.py.j2",
        "models.py": "loihi/fused_models.py.j2",
        "network.py": "loihi/fused_network.py.j2",
        "kernel.py": "loihi/kernel.py.j2",
        "supervision.py": "common/supervision.py.j2",
        "README.md": "loihi/README.md.j2",
    },
    "layered": {
        "__init__.py": "loihi/package_init.py.j2",
        "process.py": "loihi/chip_process.py.j2",
        "models.py": "loihi/chip_models.py.j2",
        "network.py": "loihi/chip_network.py.j2",
        "kernel.py": "loihi/kernel.py.j2",
        "supervision.py": "common/supervision.py.j2",
        "README.md": "loihi/README.md.j2",
    },
}


def render_loihi_package(
    network: ir.Network,
    weights: Mapping[str, np.ndarray],
    layout: str = "fused",
    *,
    pins: Mapping[str, Pin] | None = None,
    epoch: int | None = None,
    factoring: str = "combined",
) -> dict[str, bytes]:
    """Render the loihi package of ``network``, in memory.

    Args:
        network: the checked network.
        weights: its initial weights, by projection name (``mcdl.init``).
        layout: ``"fused"`` or ``"layered"`` (chip-mapped).
        pins: scales fixed by the user (see ``lower_loihi``).
        epoch: the learning epoch, if not the lowering's choice.
        factoring: how rules are lowered (see ``lower_loihi``).

    Returns:
        The package's files by path relative to the package folder, sorted;
        the same input gives the same bytes.

    Raises:
        LoweringError: the network cannot be lowered onto Loihi 2.
        ValueError: the layout is unknown.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; the loihi target has {LAYOUTS}")
    plan, diagnostics = lower_loihi(
        network, weights, pins=pins, epoch=epoch, factoring=factoring
    )
    if plan is None:
        raise LoweringError(diagnostics)
    view = _view(network, plan, layout)
    env = environment()
    files = {
        path: env.get_template(template).render(view=view).encode("utf-8")
        for path, template in _TEMPLATES[layout].items()
    }
    files["plan.json"] = _json(package_plan(plan))
    files["quantisation.json"] = _json(plan.quantisation)
    files["quantisation.md"] = quantisation_table(plan).encode("utf-8")
    files["resources.json"] = _json(plan.resources)
    files["network.json"] = _json(_portable(network.model_dump(mode="json")))
    return dict(sorted(files.items()))


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _portable(value: Any) -> Any:
    """Spans' absolute paths cut to file names, so builds do not differ by host."""
    if isinstance(value, dict):
        result = {key: _portable(item) for key, item in value.items()}
        path = result.get("path")
        if "line" in result and isinstance(path, str) and PurePath(path).is_absolute():
            result["path"] = PurePath(path).name
        return result
    if isinstance(value, list):
        return [_portable(item) for item in value]
    return value


def package_plan(plan: LoihiPlan) -> dict:
    """The plan as the package reads it: tables by name, weights as integers."""
    data = plan.to_dict()
    tables = {}
    for pop in plan.populations:
        if pop.rate is not None:
            tables[f"{pop.name}.rate"] = _table(pop.rate)
        for factor in pop.factors:
            for index, term in enumerate(factor.terms):
                if term.table is not None:
                    tables[f"{pop.name}.y{factor.slot}.{index}"] = _table(term.table)
    data["tables"] = tables
    return data


def _table(table) -> dict:
    return {
        "lo": table.lo,
        "shift": table.shift,
        "values": list(table.values),
        "low": table.low,
        "high": table.high,
    }


def quantisation_table(plan: LoihiPlan) -> str:
    """The quantisation report as a readable Markdown table."""
    lines = [
        f"# Quantisation of {plan.network} for Loihi 2",
        "",
        "Every float-to-integer scale the loihi target uses. `scale` is the "
        "float value of one integer unit; `range` the values the format holds; "
        "`error` the worst-case absolute error of the variable's integer "
        "representation (half a unit for a plain quantity, the largest table "
        "error for a lookup table, the rounding of a constant). `source` says "
        "whether the scale was pinned, derived from the network, or a default.",
        "",
        "| name | kind | bits | scale | range | error | source | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in plan.quantisation:
        low, high = row["range"]
        note = row.get("note", "")
        if "relative_error" in row and row["relative_error"]:
            note = f"{note} (relative error {row['relative_error']:.2%})".strip()
        lines.append(
            f"| {row['name']} | {row['kind']} | {row['bits']} | {row['scale']:.6g} "
            f"| [{low:.4g}, {high:.4g}] | {row['error']:.3g} | {row['source']} "
            f"| {note} |"
        )
    lines += ["", resources_table(plan)]
    return "\n".join(lines) + "\n"


def resources_table(plan: LoihiPlan) -> str:
    """The resource report as a Markdown table."""
    resources = plan.resources
    limits = resources["limits"]
    lines = [
        "## Resources on one Loihi 2 chip",
        "",
        "| layer | neurons | compartments | synapses | plastic | cores |",
        "|---|---|---|---|---|---|",
    ]
    for name, layer in resources["layers"].items():
        lines.append(
            f"| {name} | {layer['neurons']} | {layer['compartments']} | "
            f"{layer['synapses']} | {layer['plastic']} | {layer['cores']} |"
        )
    total = resources["total"]
    lines.append(
        f"| **total** | {total['neurons']} | {total['compartments']} | "
        f"{total['synapses']} | {total['plastic']} | {total['cores']} |"
    )
    lines.append(f"| **limit** | {limits['neurons']} | | | | {limits['cores']} |")
    return "\n".join(lines) + "\n"


# -- The view the templates read ---------------------------------------------


def ident(name: str) -> str:
    """A Python identifier for a population, compartment or projection name."""
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def _view(network: ir.Network, plan: LoihiPlan, layout: str) -> dict:
    pops = [p for p in plan.populations]
    neurons = [p for p in pops if not p.is_input]
    plastic = [p for p in plan.projections if p.plastic is not None]
    learners = sorted({p.target for p in plastic}, key=[q.name for q in pops].index)
    step = _step_lines(plan)
    factor_lookups, rate_lookups = _lookups(plan)
    view = {
        "name": network.name,
        "cls": "".join(part.capitalize() for part in ident(network.name).split("_")),
        "layout": layout,
        "version": mcdl.__version__,
        "spec": network.source.file,
        "sha256": network.source.sha256,
        "plan": plan,
        "input": plan.input,
        "input_id": ident(plan.input),
        "output": plan.output,
        "output_id": ident(plan.output),
        "readout": plan.readout,
        "input_size": plan.population(plan.input).size,
        "output_size": plan.population(plan.output).size,
        "output_p_u": plan.population(plan.output).p_u,
        "epoch": plan.epoch,
        "steps": plan.steps_per_pattern,
        "settle": plan.settle_steps,
        "readout_steps": plan.readout_steps,
        "residual_offset": RESIDUAL_OFFSET,
        "learners": learners,
        "learner_ids": [ident(n) for n in learners],
        "noisy": [
            {
                "name": p.name,
                "id": ident(p.name),
                "index": p.index,
                "size": p.size,
                "compartments": [
                    {"id": ident(c.name), "half": c.noise}
                    for c in p.compartments
                    if c.noise
                ],
            }
            for p in neurons
            if any(c.noise for c in p.compartments)
        ],
        "state": _state_vars(plan),
        "step": step,
        "fused_imports": _kernel_imports(step),
        "factor_tables": [(name, size) for name, size, *_ in factor_lookups],
        "rate_tables": [(name, size) for name, size, _ in rate_lookups],
        "input_lines": _input_lines(plan),
        "populations": [_population_view(plan, p) for p in neurons],
        "chip_classes": import_names(
            [f"{_class_name(network.name)}Input"]
            + [_class_name(network.name) + _class_name(p.name) for p in neurons]
        ),
        "projections": [_projection_view(plan, p) for p in plan.projections],
        "resources": resources_table(plan),
        "rules": [
            {
                "name": p.name,
                "dw": p.plastic.dw_text,
                "dd": p.plastic.dd_text or "",
                "dt": p.plastic.dt_text or "",
            }
            for p in plastic
        ],
    }
    return view


_KERNEL_NAMES = (
    "HALF_RATE",
    "TABLES",
    "fine_table",
    "shift",
    "stochastic_round",
    "table",
)
"""The kernel's helpers the step code may call."""


def _kernel_imports(step: list[str]) -> list[str]:
    """The kernel names the fused model imports: its own and the step's."""
    code = "\n".join(step)
    used = [n for n in _KERNEL_NAMES if re.search(rf"\b{n}\b", code)]
    own = ["ENGINE_SEED", "LEARNERS", "PLAN", "STATE", "pattern_noise", "stack_tables"]
    return import_names(own + used)


def import_names(names: list[str]) -> list[str]:
    """``names`` in the order ruff's isort wants them in a ``from`` import."""

    def kind(name: str) -> int:
        if name.isupper() and len(name) > 1:
            return 0
        return 1 if name[0].isupper() else 2

    return sorted(names, key=lambda name: (kind(name), name.lower()))


def _state_vars(plan: LoihiPlan) -> list[dict]:
    """Every integer state variable of the fused process: name, shape, bits."""
    out = []
    inp = plan.population(plan.input)
    out.append({"name": f"x_{ident(inp.name)}", "shape": (inp.size,), "bits": 24})
    out.append({"name": f"rate_{ident(inp.name)}", "shape": (inp.size,), "bits": 8})
    for pop in plan.populations:
        if pop.is_input:
            continue
        pid = ident(pop.name)
        for c in pop.compartments:
            out.append(
                {"name": f"u_{pid}_{ident(c.name)}", "shape": (pop.size,), "bits": 24}
            )
        out.append({"name": f"rate_{pid}", "shape": (pop.size,), "bits": 8})
        for c in pop.sends:
            out.append(
                {"name": f"pot_{pid}_{ident(c)}", "shape": (pop.size,), "bits": 16}
            )
        if pop.factors:
            out.append({"name": f"fsum_{pid}", "shape": (3, pop.size), "bits": 40})
    out.append(
        {"name": "target", "shape": (plan.population(plan.output).size,), "bits": 24}
    )
    for proj in plan.projections:
        tid = ident(proj.name)
        shape = tuple(np.shape(proj.weights))
        out.append({"name": f"w_{tid}", "shape": shape, "bits": 9})
        out.append({"name": f"buff_{tid}", "shape": (shape[0],), "bits": 24})
        if proj.plastic is not None:
            out.append({"name": f"tag_{tid}", "shape": shape, "bits": 9})
            if proj.plastic.dd:
                out.append({"name": f"d_{tid}", "shape": shape, "bits": 8})
            out.append({"name": f"x1_{tid}", "shape": (shape[1],), "bits": 8})
            out.append({"name": f"tx_{tid}", "shape": (shape[1],), "bits": 6})
            out.append({"name": f"ty_{tid}", "shape": (shape[0],), "bits": 6})
            out.append({"name": f"y_{tid}", "shape": (3, shape[0]), "bits": 7})
    return out


def _population_view(plan: LoihiPlan, pop) -> dict:
    inputs = _inputs_of(plan, pop)
    return {
        "name": pop.name,
        "id": ident(pop.name),
        "cls": _class_name(plan.network) + _class_name(pop.name),
        "index": pop.index,
        "size": pop.size,
        "p_u": pop.p_u,
        "p_a": pop.p_a,
        "p_r": pop.p_r,
        "compartments": [ident(c.name) for c in pop.compartments],
        "rate_source": ident(pop.rate_source or ""),
        "rests": {ident(c.name): c.rest for c in pop.compartments},
        "inputs": [
            {"id": ident(name), "name": name, "sources": sources}
            for name, sources in inputs.items()
        ],
        "sends": [ident(c) for c in pop.sends],
        "factors": bool(pop.factors),
        "is_output": pop.name == plan.output,
        "learner": pop.name in {p.target for p in plan.projections if p.plastic},
        "lines": _population_lines(plan, pop),
        "noise": [ident(c.name) for c in pop.compartments if c.noise],
        "noise_half": [c.noise for c in pop.compartments if c.noise],
    }


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in ident(name).split("_"))


def _projection_view(plan: LoihiPlan, proj) -> dict:
    src = plan.population(proj.source)
    bits = RATE_BITS if proj.kind == "rate" else 16
    view = {
        "name": proj.name,
        "id": ident(proj.name),
        "source": proj.source,
        "source_id": ident(proj.source),
        "source_port": "s_out"
        if proj.kind == "rate"
        else f"s_{ident(proj.source_var)}",
        "target": proj.target,
        "target_id": ident(proj.target),
        "port": f"a_{ident(proj.name)}"
        if proj.kind == "nudge"
        else f"a_{ident(proj.compartment)}",
        "weight_exp": proj.weight_exp,
        "sign_mode": proj.sign_mode.upper(),
        "message_bits": bits,
        "plastic": proj.plastic is not None,
        "source_size": src.size,
    }
    if proj.plastic is not None:
        view["dw"] = proj.plastic.dw_text
        view["dd"] = proj.plastic.dd_text or ""
        view["dt"] = proj.plastic.dt_text or ""
    return view


def _inputs_of(plan: LoihiPlan, pop) -> dict[str, list[str]]:
    """Each 16-bit input of ``pop`` (dendrite, compartment, link): its projections."""
    inputs: dict[str, list[str]] = {name: [] for name in pop.dendrites}
    for proj in plan.projections:
        if proj.target != pop.name:
            continue
        where = proj.name if proj.kind == "nudge" else proj.compartment
        inputs.setdefault(where, []).append(ident(proj.name))
    return inputs


# -- The integer step as code --------------------------------------------------
#
# The step is written out with every constant folded in (``(a << 6) * g`` as
# ``a * (g << 6)``, no ``* 1`` or ``>> 0``) and a saturation only where it can
# bind: each value's range is followed from the plan (tables, gains, noise)
# and the widths every state variable is held to (any weights of the format,
# not only the plan's), and a clip whose bounds contain the range is left
# out. Every step leaves the state within those widths; a state that comes
# from elsewhere must be too. The integers are those of ``mcdl.sim.fixed``
# either way; the ranges only decide what need not be computed.

_A_RANGE = (-(2 ** (ACTIVATION_BITS - 1)), 2 ** (ACTIVATION_BITS - 1) - 1)
_U_RANGE = (-(2 ** (STATE_BITS - 1)), 2 ** (STATE_BITS - 1) - 1)
_RATE_RANGE = (0, 2**RATE_BITS - 1)
_TRACE_RANGES = {
    "x0": (0, 1),
    "y0": (0, 1),
    "x1": (0, 2**TRACE_BITS - 1),
    "y1": (0, 2**TRACE_BITS - 1),
    "y2": (0, 2**TRACE_BITS - 1),
    "y3": (0, 2**TRACE_BITS - 1),
    "w": (WEIGHT_MIN, WEIGHT_MAX),
    "t": (TAG_MIN, TAG_MAX),
    "d": (0, 255),
}
"""The learning engine's variables, as the engine holds them between epochs."""


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


def _mul(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    corners = [x * y for x in a for y in b]
    return min(corners), max(corners)


def _shifted(a: tuple[int, int], exponent: int) -> tuple[int, int]:
    """The range of ``a << exponent`` (``>> -exponent``, rounding down)."""
    if exponent >= 0:
        return a[0] << exponent, a[1] << exponent
    return a[0] >> -exponent, a[1] >> -exponent


def _clipped(a: tuple[int, int], low: int, high: int) -> tuple[int, int]:
    return min(max(a[0], low), high), min(max(a[1], low), high)


def _saturate(
    name: str, rng: tuple[int, int] | None, low: int, high: int, width: int = 80
) -> list[str]:
    """``name`` saturated to ``[low, high]`` where its range ``rng`` exceeds it.

    ``rng`` None: the range is not known. ``width`` is what the line may
    take after its indentation (80 in a method's body); longer lines go
    through the temporary ``value``.
    """
    if rng is None:
        rng = (low - 1, high + 1)
    below, above = rng[0] < low, rng[1] > high
    if below and above:
        expr = f"np.minimum(np.maximum({{}}, {low}), {high})"
    elif below:
        expr = f"np.maximum({{}}, {low})"
    elif above:
        expr = f"np.minimum({{}}, {high})"
    else:
        return []
    line = f"{name} = {expr.format(name)}"
    if len(line) <= width:
        return [line]
    line = f"{name} = {expr.format('value')}"
    if len(line) <= width:
        return [f"value = {name}", line]
    head, _, tail = expr.format("value").partition("(")
    return [f"value = {name}", f"{name} = {head}(", f"    {tail[:-1]}", ")"]


def _input_lines(plan: LoihiPlan) -> list[str]:
    """The input source's step in the chip layout: ``self.x`` to ``rate``."""
    inp = plan.population(plan.input)
    down = inp.p_f - inp.p_r
    lines = []
    if inp.filter_gain:
        lines.append(f"step = {inp.filter_gain} * (pattern - self.x)")
        lines.append("self.x = self.x + ((step + 2048) >> 12)")
    else:
        lines.append("self.x = pattern.copy()")
    lines.append(f"rate = (self.x + {1 << (down - 1)}) >> {down}")
    lines.append("rate = np.clip(rate, 0, 255)")
    return lines


def _signal_range(plan: LoihiPlan, proj) -> tuple[int, int]:
    """The values a projection's source sends: an 8-bit rate or a potential."""
    if proj.kind != "rate":
        return _A_RANGE
    source = plan.population(proj.source)
    if source.is_input or source.rate is None:
        return _RATE_RANGE
    return source.rate.low, source.rate.high


def _delivered_range(plan: LoihiPlan, proj) -> tuple[int, int]:
    """The range of ``(W @ s) << weight_exp`` for any weights of the format.

    Any weights, not the plan's: a state read from a file may hold others.
    """
    signal = _signal_range(plan, proj)
    per_weight = _mul((WEIGHT_MIN, WEIGHT_MAX), signal)
    inputs = np.shape(proj.weights)[-1]
    drive = (per_weight[0] * inputs, per_weight[1] * inputs)
    return _shifted(drive, proj.weight_exp)


def _lookups(plan: LoihiPlan) -> tuple[list[tuple], list[tuple]]:
    """The fused step's two stacked table lookups, in the order of their input.

    Returns the factor tables, as (table name, size, population, factor,
    term index), and the rate tables, as (table name, size, population).
    """
    factors, rates = [], []
    for pop in plan.populations:
        if pop.is_input:
            continue
        for factor in pop.factors:
            for index, term in enumerate(factor.terms):
                if term.table is not None:
                    name = f"{pop.name}.y{factor.slot}.{index}"
                    factors.append((name, pop.size, pop, factor, index))
        rates.append((f"{pop.name}.rate", pop.size, pop))
    return factors, rates


def _stacked(name: str, function: str, table: str, inputs: list[str]) -> list[str]:
    """``name = function(table, inputs concatenated)``, formatted as ruff does."""
    if len(inputs) == 1:
        return [f"{name} = {function}({table}, {inputs[0]})"]
    return [
        "parts = (",
        *(f"    {x}," for x in inputs),
        ")",
        f"{name} = {function}({table}, np.concatenate(parts))",
    ]


def _step_lines(plan: LoihiPlan) -> list[str]:
    """The body of the fused model's ``_step``: one time step of the network.

    ``k`` is the step's number since the start, ``n`` its number within the
    pattern; ``noises`` holds the pattern's noise per noisy population, one
    ``(steps, size)`` array per noisy compartment. Populations are
    independent within a step (synapses deliver at the next), so the step
    takes them phase by phase and looks up every population's tables at
    once: inputs, factor tables, each population's integration, rates.
    """
    epoch = plan.epoch
    inp = plan.population(plan.input)
    iid = ident(inp.name)
    down = inp.p_f - inp.p_r
    neurons = [p for p in plan.populations if not p.is_input]
    plastic = [p for p in plan.projections if p.plastic is not None]
    lines = []
    if plastic:
        lines += [
            "# The learning epoch's clock: the step within the epoch, and its end.",
            f"within = k % {epoch} or {epoch}",
            f"epoch_end = within == {epoch}",
        ]
    if any(pop.factors for pop in neurons):
        lines += [
            "# y1..y3 are read at the end of an epoch and the state at a pattern's.",
            f"factors_due = k % {epoch} == 0 or n == STEPS - 1",
        ]
    if lines:
        lines.append("")
    lines.append(f"# -- {inp.name}: the input filter and its 8-bit rate")
    if inp.filter_gain:
        lines += [
            f"x = self.x_{iid}",
            f"x += ({inp.filter_gain} * (pattern - x) + 2048) >> 12",
        ]
    else:
        lines += [f"self.x_{iid}[:] = pattern", f"x = self.x_{iid}"]
    lines.append(f"rate_{iid} = (x + {1 << (down - 1)}) >> {down}")
    lines += _saturate(f"rate_{iid}", None, *_RATE_RANGE)

    lines += ["", "# -- every population's input: what the synapses delivered"]
    ranges = {}
    for pop in neurons:
        input_lines, ranges[pop.name] = _pop_input_lines(plan, pop, chip=False)
        lines += input_lines
    factor_lookups, rate_lookups = _lookups(plan)
    looked = {}
    if factor_lookups:
        lines += [
            "",
            "# -- every factor's table, in one lookup: of the potentials before",
            "# the step and of this step's dendritic predictions",
        ]
        inputs, start = [], 0
        for _, size, pop, factor, index in factor_lookups:
            comps = _compartment_names(pop)
            x_lines, x = _factor_input(pop, factor, index, comps, chip=False)
            lines += x_lines
            inputs.append(x)
            looked[(pop.name, factor.slot, index)] = f"looked[{start}:{start + size}]"
            start += size
        lines += _stacked("looked", "fine_table", "FACTOR_TABLES", inputs)
    for pop in neurons:
        lines += ["", f"# -- {pop.name}"]
        lines += _integration_lines(plan, pop, ranges[pop.name], looked, chip=False)

    lines += ["", "# -- every population's rate, in one lookup"]
    inputs = [f"new_{ident(pop.name)}_{ident(pop.rate_source)}" for pop in neurons]
    lines += _stacked("rates", "table", "RATE_TABLES", inputs)
    start = 0
    for _, size, pop in rate_lookups:
        lines.append(f"rate_{ident(pop.name)} = rates[{start}:{start + size}]")
        start += size
    for pop in neurons:
        lines += _potential_lines(pop, chip=False)

    lines += ["", "# -- the state the synapses and the learning engine read"]
    for pop in plan.populations:
        pid = ident(pop.name)
        lines.append(f"self.rate_{pid}[:] = rate_{pid}")
        for c in pop.sends:
            lines.append(f"self.pot_{pid}_{ident(c)}[:] = pot_{pid}_{ident(c)}")
    lines += [
        "",
        "# -- synapses: what each projection delivers at the next step",
        "# (in place: every population has read the buffers above)",
    ]
    for proj in plan.projections:
        tid = ident(proj.name)
        if proj.kind == "rate":
            signal = f"rate_{ident(proj.source)}"
        else:
            signal = f"pot_{ident(proj.source)}_{ident(proj.source_var)}"
        lines.append(f"drive = self.w_{tid} @ {signal}")
        exponent, buffer = proj.weight_exp, f"self.buff_{tid}"
        if exponent < 0:
            lines.append(f"np.right_shift(drive, {-exponent}, out={buffer})")
        elif exponent > 0:
            lines.append(f"np.left_shift(drive, {exponent}, out={buffer})")
        else:
            lines.append(f"{buffer}[:] = drive")
    if plastic:
        lines += ["", *_receive_lines(plan, plastic)]
        lines += ["", *_epoch_lines(plan, plastic)]
    return lines


def _population_lines(plan: LoihiPlan, pop) -> list[str]:
    """One population's step in the chip model: inputs to rate and payloads.

    The inputs are ``a_<input>`` received from the ports and ``noise``
    holds this step's draws; the result is ``rate_<pop>``, ``pot_<pop>_<c>``,
    ``y_<pop>`` and the new potentials. The fused model runs the same lines
    (``_step_lines``), phase by phase over the populations.
    """
    lines, ranges = _pop_input_lines(plan, pop, chip=True)
    lines += _integration_lines(plan, pop, ranges, None, chip=True)
    pid = ident(pop.name)
    name = json.dumps(pop.name + ".rate")
    lines.append(f"rate_{pid} = table(TABLES[{name}], new_{ident(pop.rate_source)})")
    return lines + _potential_lines(pop, chip=True)


def _scope(pop, chip: bool) -> str:
    """The prefix of a population's local names: none in its own chip model."""
    return "" if chip else f"{ident(pop.name)}_"


def _compartment_names(pop) -> dict[str, str]:
    return {
        c.name: f"self.u_{ident(pop.name)}_{ident(c.name)}" for c in pop.compartments
    }


def _pop_input_lines(plan: LoihiPlan, pop, chip: bool) -> tuple[list[str], dict]:
    """A population's 16-bit inputs (``a_<input>``), saturated; and their ranges.

    The fused model adds up the synapses' buffers; the chip model has
    received them from its ports.
    """
    scope = _scope(pop, chip)
    lines, ranges = [], {}
    for name, sources in _inputs_of(plan, pop).items():
        aid = f"a_{scope}{ident(name)}"
        rng = (0, 0)
        for proj in plan.projections:
            if ident(proj.name) in sources:
                rng = _add(rng, _delivered_range(plan, proj))
        if chip:
            if not sources:
                rng = _A_RANGE
        elif not sources:
            lines.append(f"{aid} = np.zeros({pop.size}, dtype=np.int64)")
        else:
            terms = " + ".join(f"self.buff_{s}" for s in sources)
            lines.append(f"{aid} = {terms}")
        lines += _saturate(aid, rng, *_A_RANGE)
        ranges[name] = _clipped(rng, *_A_RANGE)
    return lines, ranges


def _integration_lines(
    plan: LoihiPlan, pop, ranges: dict, looked: dict | None, chip: bool
) -> list[str]:
    """The target's filter, the factors y1..y3 and the new potentials.

    ``looked`` holds the factors' table values where a stacked lookup has
    found them (fused); without it each is looked up here (chip).
    """
    pid = ident(pop.name)
    lines = []
    if not chip and any(c.noise for c in pop.compartments):
        lines.append(f"noise = noises.get({json.dumps(pid)})")
    learner = any(p.target == pop.name and p.plastic for p in plan.projections)
    if not chip and learner:
        lines.append(f"learn_{pid} = {json.dumps(pid)} in learning")
    comps = _compartment_names(pop)
    if pop.name == plan.output:
        lines.append("if target is not None:")
        if pop.filter_gain:
            gain = pop.filter_gain
            lines.append("    filtered = self.target")
            lines.append(f"    filtered += ({gain} * (target - filtered) + 2048) >> 12")
        else:
            lines.append("    self.target[:] = target")
    if pop.factors:
        lines += _factor_lines(plan, pop, comps, looked, chip)
    scope = _scope(pop, chip)
    for c in pop.compartments:
        lines += _compartment_lines(pop, c, comps, ranges, chip)
    for c in pop.compartments:
        lines.append(f"{comps[c.name]}[:] = new_{scope}{ident(c.name)}")
    return lines


def _potential_lines(pop, chip: bool) -> list[str]:
    """The 16-bit payloads of the potentials other populations read."""
    lines = []
    for c in pop.sends:
        pot = f"pot_{ident(pop.name)}_{ident(c)}"
        new = f"new_{_scope(pop, chip)}{ident(c)}"
        lines.append(f"{pot} = ({new} + 32) >> 6")
        rng = _shifted(_add(_U_RANGE, (32, 32)), -6)
        lines += _saturate(pot, rng, *_A_RANGE)
    return lines


def _compartment_lines(pop, c, comps, ranges, chip) -> list[str]:
    """``new_<c>``: one compartment's integration.

    ``u + ((sum_i gain_i * value_i - decay * u + 2048) >> 12)`` plus the
    noise: the leak's constant goes into the rounding constant, an input's
    ``<< 6`` into its gain. The saturation to 24 bits stays unless the range
    of the result, over any potentials and inputs within their widths, is
    inside it (a filtered target has no such bound: it keeps it).
    """
    cid = _scope(pop, chip) + ident(c.name)
    u = comps[c.name]
    lines = []
    decays = (c.decay_teach, c.decay_free)
    if c.decay_teach == c.decay_free:
        lines.append(f"acc = {-c.decay_teach} * {u}")
    else:
        lines.append(f"acc = -({c.decay_teach} if teach else {c.decay_free}) * {u}")
    # The range of 4096 * u - decay * u + sum_i gain_i * value_i, per phase.
    spans = {
        teach: _mul(_U_RANGE, (4096 - d, 4096 - d))
        for teach, d in zip((True, False), decays, strict=True)
    }
    bounded = all(0 <= d <= 4096 for d in decays)
    constants = {True: 2048, False: 2048}
    for term in c.terms:
        gains = {True: term.gain_teach, False: term.gain_free}
        if term.kind == "leak":
            for teach in gains:
                constants[teach] += gains[teach] * term.value
            continue
        if term.kind == "target":
            value, rng = "self.target", None
        elif term.kind == "coupling" and term.source in comps:
            value, rng = comps[term.source], _U_RANGE
        else:
            value = f"a_{_scope(pop, chip)}{ident(term.source)}"
            rng = ranges.get(term.source, _A_RANGE)
            gains = {t: g << ACTIVATION_SHIFT for t, g in gains.items()}
        if rng is None:
            bounded = False
        else:
            for teach in gains:
                spans[teach] = _add(spans[teach], _mul(rng, (gains[teach],) * 2))
        if gains[True] == gains[False]:
            if gains[True]:
                lines.append(f"acc += {gains[True]} * {value}")
        elif gains[False] == 0:
            lines += ["if teach:", f"    acc += {gains[True]} * {value}"]
        elif gains[True] == 0:
            lines += ["if not teach:", f"    acc += {gains[False]} * {value}"]
        else:
            lines.append(
                f"acc += ({gains[True]} if teach else {gains[False]}) * {value}"
            )
    if constants[True] == constants[False]:
        rounding = str(constants[True])
    else:
        rounding = f"({constants[True]} if teach else {constants[False]})"
    lines.append(f"new_{cid} = {u} + ((acc + {rounding}) >> {DECAY_BITS})")
    rng = (0, 0)
    for teach, span in spans.items():
        low, high = _shifted(_add(span, (constants[teach],) * 2), -DECAY_BITS)
        rng = (min(rng[0], low), max(rng[1], high))
    if c.noise:
        index = _noise_index(pop, c)
        draw = f"noise[{index}]" if chip else f"noise[{index}][n]"
        lines += ["if noise is not None:", f"    new_{cid} += {draw}"]
        rng = _add(rng, (-c.noise, c.noise))
    if not bounded:
        rng = (_U_RANGE[0] - 1, _U_RANGE[1] + 1)
    return lines + _saturate(f"new_{cid}", rng, *_U_RANGE)


def _noise_index(pop, compartment) -> int:
    return [c.name for c in pop.compartments if c.noise].index(compartment.name)


def _factor_input(pop, factor, index, comps, chip) -> tuple[list[str], str]:
    """The input of a factor's term: a potential, a dendrite or its prediction."""
    term = factor.terms[index]
    if term.kind != "dendrite":
        return [], comps[term.source]
    scope = _scope(pop, chip)
    x = f"a_{scope}{ident(term.source)}"
    if not term.multiplier:
        return [], x
    name = f"x_{scope}y{factor.slot}_{index}"
    gain = term.multiplier << ACTIVATION_SHIFT
    half = 1 << (PREDICTION_BITS - 1)
    return [f"{name} = ({x} * {gain} + {half}) >> {PREDICTION_BITS}"], name


def _factor_lines(plan: LoihiPlan, pop, comps, looked: dict | None, chip) -> list[str]:
    """y1..y3 from the potentials before the step; epoch means on the last step.

    A tabled term's value is ``looked``'s where a stacked lookup found it.
    The chip model sends the factors at every step. The fused model's
    engine reads them only at the end of an epoch, so it computes them
    there and at the pattern's last step, where the state is read
    (``factors_due``).
    """
    pid = ident(pop.name)
    lines = [
        "# y1..y3: fine values (8 fractional bits) from the potentials before",
        "# the step; the mean over the epoch on its last step",
        f"fine = np.zeros((3, {pop.size}), dtype=np.int64)",
    ]
    for factor in pop.factors:
        row = factor.slot - 1
        first = True
        for index, term in enumerate(factor.terms):
            key = (pop.name, factor.slot, index)
            if looked is not None and key in looked:
                lines.append(f"value = {looked[key]}")
            else:
                x_lines, x = _factor_input(pop, factor, index, comps, chip)
                lines += x_lines
                if term.table is not None:
                    name = json.dumps(f"{pop.name}.y{factor.slot}.{index}")
                    lines.append(f"value = fine_table(TABLES[{name}], {x})")
                else:
                    lines.append(f"value = shift({x}, {TABLE_FRACTION - term.shift})")
            if first:
                lines.append(f"part = {term.gain} * value")
            else:
                sign = "-" if term.gain < 0 else "+"
                lines.append(f"part = part {sign} {abs(term.gain)} * value")
            first = False
        if first:
            lines.append(f"fine[{row}] = {factor.const}")
        elif factor.const:
            lines.append(f"fine[{row}] = part + {factor.const}")
        else:
            lines.append(f"fine[{row}] = part")
    shift_ = DECAY_BITS + TABLE_FRACTION
    factors = [
        f"if k % {plan.epoch} == 0:",
        f"    mean = fsum * {(1 << shift_) // plan.epoch}",
        f"    value = (mean + {1 << (2 * shift_ - 1)}) >> {2 * shift_}",
        "    fsum[:] = 0",
        "else:",
        f"    value = (fine + {1 << (shift_ - 1)}) >> {shift_}",
    ]
    for factor in pop.factors:
        if factor.offset:
            factors.append(f"value[{factor.slot - 1}] += {factor.offset}")
    factors.append(f"y_{pid} = np.minimum(np.maximum(value, 0), {2**TRACE_BITS - 1})")
    lines += [f"fsum = self.fsum_{pid}", "fsum += fine"]
    if chip:
        return lines + factors
    return lines + ["if factors_due:", *("    " + line for line in factors)]


def _wrap_comment(text: str, width: int = 70) -> list[str]:
    """``text`` as comment lines of at most ``width`` characters."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(f"#   {line}")
            line = "    " + word
        else:
            line = f"{line} {word}" if line else word
    lines.append(f"#   {line}")
    return lines


def _receive_lines(plan: LoihiPlan, plastic: list) -> list[str]:
    """What the learning engine takes in at every step, per plastic projection.

    ``x1`` is the last payload / 2 (rounded half to even, as ``np.round``),
    ``tx``/``ty`` the step within the epoch of the last pre-synaptic spike
    and bAP, ``y`` the post-synaptic factors; a source's spikes and halved
    payloads are computed once for all its projections.
    """
    lines = ["# -- learning engine: this step's traces (Lava's bit-approximate model)"]
    sources = []
    for proj in plastic:
        if proj.source not in sources:
            sources.append(proj.source)
    for source in sources:
        sid = ident(source)
        rng = _signal_range(plan, next(p for p in plastic if p.source == source))
        lines.append(f"spiked_{sid} = rate_{sid} > 0")
        if _RATE_RANGE[0] <= rng[0] and rng[1] <= _RATE_RANGE[1]:
            lines.append(f"half_{sid} = HALF_RATE[rate_{sid}]")
        else:
            lines.append(f"half_{sid} = np.round(rate_{sid} / 2).astype(np.int64)")
        for proj in plastic:
            if proj.source != source:
                continue
            tid = ident(proj.name)
            lines += [
                f"np.copyto(self.x1_{tid}, half_{sid}, where=spiked_{sid})",
                f"self.tx_{tid}[spiked_{sid}] = within",
            ]
    for proj in plastic:
        tid, post = ident(proj.name), ident(proj.target)
        lines += [f"if learn_{post}:", f"    self.ty_{tid}[:] = within"]
    lines.append("if factors_due:")
    for proj in plastic:
        lines.append(f"    self.y_{ident(proj.name)}[:] = y_{ident(proj.target)}")
    return lines


def _epoch_lines(plan: LoihiPlan, plastic: list) -> list[str]:
    """The learning engine's update at the end of an epoch, every projection."""
    lines = [
        "# -- learning engine: the epoch's update, from the values before it",
        "# (one random number per epoch for the stochastic rounding, Lava's)",
        "if epoch_end:",
        "    random = self.engine_random()",
    ]
    for proj in plastic:
        lines += ["    " + line for line in _engine_lines(plan, proj)]
    return lines


def _factor_code(name: str, const: int) -> tuple[str, tuple[int, int]]:
    """One factor of a product as code, clipped to its width, and its range."""
    inner = name[4:-1] if name.startswith("sgn(") else name
    rng = _add(_TRACE_RANGES[inner], (const, const))
    value = inner
    if const:
        value = f"{inner} {'-' if const < 0 else '+'} {abs(const)}"
    if name.startswith("sgn("):
        value = f"np.sign({value})"
        rng = (int(np.sign(rng[0])), int(np.sign(rng[1])))
    elif const:
        value = f"({value})"
    width = FACTOR_WIDTHS[name]
    low, high = -(2**width), 2**width - 1
    if rng[0] < low or rng[1] > high:
        value = f"np.minimum(np.maximum({value}, {low}), {high})"
        rng = _clipped(rng, low, high)
    return value, rng


def _engine_lines(plan: LoihiPlan, proj) -> list[str]:
    """Lava's bit-approximate learning engine for one plastic projection.

    Each of ``dw``, ``dd`` and ``dt`` is summed in the engine's 15-bit
    accumulator from ``value << 7``: per product, ``y0`` (or the epoch's
    decimation bit) times its factors, times its mantissa, shifted by the
    engine's shift and the exponent, saturated, added and saturated again;
    then rounded stochastically and saturated to the variable's range. A
    product that appears in more than one sum is computed once.
    """
    tid = ident(proj.name)
    rule = proj.plastic
    epoch = plan.epoch
    products = rule.dw + rule.dd + rule.dt
    raws = []
    for product in products:
        dep = "y0" if product.decimation is None else f"u{product.decimation}"
        codes = [_factor_code(name, const) for name, const in product.factors]
        text = " * ".join([dep] + [code for code, _ in codes])
        rng = (0, 1)
        for _, factor_range in codes:
            rng = _mul(rng, factor_range)
        raws.append((text, rng, product))
    used = {
        name[4:-1] if name.startswith("sgn(") else name
        for p in products
        for name, _ in p.factors
    }
    used |= {"y0" for p in products if p.decimation is None}
    lines = [
        f"# {proj.name}",
        *_wrap_comment(f"dw = {rule.dw_text}"),
        *_wrap_comment(f"dt = {rule.dt_text}" if rule.dt_text else "(no tag)"),
    ]
    names = {"w": "w", "d": "d", "t": "tag"}
    updated = [var for var in ("w", "d", "t") if getattr(rule, f"d{var}")]
    for var in ("w", "d", "t"):
        if var in updated or var in used:
            lines.append(f"{var} = self.{names[var]}_{tid}")
    lines.append(f"fired = self.tx_{tid} > 0")
    if "x0" in used:
        lines.append("x0 = fired.astype(np.int64)[None, :]")
    if "y0" in used:
        lines.append(f"y0 = (self.ty_{tid} > 0).astype(np.int64)[:, None]")
    lines.append(f"x1 = np.minimum(self.x1_{tid}, 127)")
    for i in range(3):
        if f"y{i + 1}" in used:
            lines.append(f"y{i + 1} = self.y_{tid}[{i}][:, None]")
    for dec in sorted({p.decimation for p in products if p.decimation is not None}):
        lines.append(f"u{dec} = int((k // {epoch}) % {2**dec} == 0)")
    counts: dict[str, int] = {}
    for text, _, _ in raws:
        counts[text] = counts.get(text, 0) + 1
    shared: dict[str, str] = {}
    for text, _, _ in raws:
        if counts[text] > 1 and text not in shared:
            shared[text] = f"shared{len(shared) + 1}"
            lines.append(f"{shared[text]} = {text}")
    position = 0
    for var, var_products, low, high in (
        ("w", rule.dw, WEIGHT_MIN, WEIGHT_MAX),
        ("d", rule.dd, 0, 255),
        ("t", rule.dt, TAG_MIN, TAG_MAX),
    ):
        if not var_products:
            continue
        acc_range = _shifted(_TRACE_RANGES[var], SYNAPSE_SHIFT)
        lines.append(f"acc = {var} << {SYNAPSE_SHIFT}")
        for product in var_products:
            text, rng, _ = raws[position]
            position += 1
            raw = shared.get(text, text)
            literal = f"{product.mantissa}*2^{product.exponent}"
            lines.append(f"# {literal}: {product.meaning}")
            up = product.exponent + SYNAPSE_SHIFT
            rng = _mul(rng, (product.mantissa, product.mantissa))
            if product.shift:
                mac = f"({raw} * {product.mantissa}) >> {product.shift}"
                rng = _shifted(rng, -product.shift)
                if up:
                    mac = f"({mac}) << {up}"
            else:
                factor = product.mantissa << up
                mac = raw if factor == 1 else f"{raw} * {factor}"
            rng = _shifted(rng, up)
            lines.append(f"mac = {mac}")
            lines += _saturate("mac", rng, _ACC_MIN, _ACC_MAX, 76)
            rng = _clipped(rng, _ACC_MIN, _ACC_MAX)
            lines.append("acc = acc + mac")
            acc_range = _add(acc_range, rng)
            lines += _saturate("acc", acc_range, _ACC_MIN, _ACC_MAX, 76)
            acc_range = _clipped(acc_range, _ACC_MIN, _ACC_MAX)
        if var == "d" and acc_range[0] < 0:
            lines.append("acc = np.maximum(acc, 0)")
            acc_range = (0, max(acc_range[1], 0))
        lines.append(f"new_{var} = stochastic_round(acc, random)")
        new_range = (acc_range[0] >> SYNAPSE_SHIFT, (acc_range[1] >> SYNAPSE_SHIFT) + 1)
        lines += _saturate(f"new_{var}", new_range, low, high, 76)
    lines += [f"self.{names[var]}_{tid}[:] = new_{var}" for var in updated]
    lines += [
        f"np.copyto(self.x1_{tid}, x1, where=fired)",
        f"self.tx_{tid}[:] = 0",
        f"self.ty_{tid}[:] = 0",
    ]
    return lines
