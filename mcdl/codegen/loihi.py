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
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np

import mcdl
from mcdl import ir
from mcdl.codegen.environment import environment
from mcdl.passes.lower_loihi import (
    ACCUMULATOR,
    ACTIVATION_SHIFT,
    FACTOR_WIDTHS,
    PREDICTION_BITS,
    RATE_BITS,
    RESIDUAL_OFFSET,
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
        "README.md": "loihi/README.md.j2",
    },
    "layered": {
        "__init__.py": "loihi/package_init.py.j2",
        "process.py": "loihi/chip_process.py.j2",
        "models.py": "loihi/chip_models.py.j2",
        "network.py": "loihi/chip_network.py.j2",
        "kernel.py": "loihi/kernel.py.j2",
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
        "step": _step_lines(plan),
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
        "lines": _population_lines(plan, pop, chip=True),
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


def _step_lines(plan: LoihiPlan) -> list[str]:
    """The body of the fused model's ``_step``: one time step of the network."""
    lines = ["self._k += 1", "k = self._k"]
    inp = plan.population(plan.input)
    iid = ident(inp.name)
    down = inp.p_f - inp.p_r
    if inp.filter_gain:
        lines.append(f"step = {inp.filter_gain} * (pattern - self.x_{iid})")
        lines.append(f"self.x_{iid} = self.x_{iid} + ((step + 2048) >> 12)")
    else:
        lines.append(f"self.x_{iid} = pattern.copy()")
    lines.append(f"rate_{iid} = (self.x_{iid} + {1 << (down - 1)}) >> {down}")
    lines.append(f"rate_{iid} = np.clip(rate_{iid}, 0, 255)")
    for proj in plan.projections:
        lines.append(f"out_{ident(proj.name)} = self.buff_{ident(proj.name)}")
    for pop in plan.populations:
        if not pop.is_input:
            pid = ident(pop.name)
            lines.append(f"# -- {pop.name}")
            lines.append(f"noise = noises.get({json.dumps(pid)})")
            lines.append(f"learn_{pid} = {json.dumps(pid)} in learning")
            lines += _population_lines(plan, pop, chip=False)
    lines.append(f"self.rate_{iid} = rate_{iid}")
    for pop in plan.populations:
        if not pop.is_input:
            pid = ident(pop.name)
            lines.append(f"self.rate_{pid} = rate_{pid}")
            for c in pop.sends:
                lines.append(f"self.pot_{pid}_{ident(c)} = pot_{pid}_{ident(c)}")
    lines.append("# -- synapses (delivered next step)")
    for proj in plan.projections:
        tid = ident(proj.name)
        if proj.kind == "rate":
            signal = f"self.rate_{ident(proj.source)}"
        else:
            signal = f"self.pot_{ident(proj.source)}_{ident(proj.source_var)}"
        lines.append(f"drive = self.w_{tid} @ {signal}")
        lines.append(f"self.buff_{tid} = shift(drive, {proj.weight_exp})")
    lines.append("# -- learning engine (one random number per epoch, Lava's)")
    lines.append(f"random = self.engine_random() if k % {plan.epoch} == 0 else 0.0")
    for proj in plan.projections:
        if proj.plastic is not None:
            lines += _engine_lines(plan, proj)
    return lines


def _population_lines(plan: LoihiPlan, pop, chip: bool) -> list[str]:
    """One population's step: inputs, factors, integration, rate, payloads.

    In the fused model the inputs are ``out_<projection>``; in the chip
    model they are ``a_<input>`` received from the ports. Either way the
    result is ``rate_<pop>``, ``pot_<pop>_<c>``, ``y_<pop>`` and the new
    potentials.
    """
    pid = ident(pop.name)
    lines = []
    for name, sources in _inputs_of(plan, pop).items():
        aid = f"a_{ident(name)}"
        if not chip:
            if not sources:
                lines.append(f"{aid} = np.zeros({pop.size}, dtype=np.int64)")
            else:
                lines.append(f"{aid} = out_{sources[0]}")
                lines += [f"{aid} = {aid} + out_{s}" for s in sources[1:]]
        lines.append(f"{aid} = np.clip({aid}, -32768, 32767)")
    comps = {c.name: f"self.u_{pid}_{ident(c.name)}" for c in pop.compartments}
    if pop.name == plan.output:
        gain = pop.filter_gain
        if gain:
            lines.append("if target is not None:")
            lines.append(f"    step = {gain} * (target - self.target)")
            lines.append("    self.target = self.target + ((step + 2048) >> 12)")
        else:
            lines.append("if target is not None:")
            lines.append("    self.target = target.copy()")
    if pop.factors:
        lines += _factor_lines(plan, pop, comps)
    for c in pop.compartments:
        cid = ident(c.name)
        rows = []
        for term in c.terms:
            if term.kind == "leak":
                value = str(term.value)
            elif term.kind == "target":
                value = "self.target"
            elif term.kind == "coupling" and term.source in comps:
                value = comps[term.source]
            else:
                value = f"(a_{ident(term.source)} << {ACTIVATION_SHIFT})"
            if term.gain_teach == term.gain_free:
                if term.gain_teach:
                    rows.append(f"{term.gain_teach} * {value}")
            else:
                rows.append(
                    f"({term.gain_teach} if teach else {term.gain_free}) * {value}"
                )
        if c.decay_teach == c.decay_free:
            decay = str(c.decay_teach)
        else:
            decay = f"({c.decay_teach} if teach else {c.decay_free})"
        lines.append(f"acc = -{decay} * {comps[c.name]}")
        lines += [f"acc = acc + {row}" for row in rows]
        lines.append(f"new_{cid} = {comps[c.name]} + ((acc + 2048) >> 12)")
        if c.noise:
            index = _noise_index(pop, c)
            lines.append("if noise is not None:")
            lines.append(f"    new_{cid} = new_{cid} + noise[{index}]")
        lines.append(f"new_{cid} = np.clip(new_{cid}, -8388608, 8388607)")
    for c in pop.compartments:
        cid = ident(c.name)
        lines.append(f"{comps[c.name]} = new_{cid}")
    assert pop.rate_source is not None
    call = f"table(TABLES[{json.dumps(pop.name + '.rate')}], {comps[pop.rate_source]})"
    lines.append(f"rate_{pid} = {call}")
    for c in pop.sends:
        lines.append(
            f"pot_{pid}_{ident(c)} = np.clip(({comps[c]} + 32) >> 6, -32768, 32767)"
        )
    return lines


def _noise_index(pop, compartment) -> int:
    return [c.name for c in pop.compartments if c.noise].index(compartment.name)


def _factor_lines(plan: LoihiPlan, pop, comps: dict[str, str]) -> list[str]:
    """y1..y3 from the potentials before the step; epoch means on the last step."""
    pid = ident(pop.name)
    lines = [f"fine = np.zeros((3, {pop.size}), dtype=np.int64)"]
    for factor in pop.factors:
        row = factor.slot - 1
        for index, term in enumerate(factor.terms):
            if term.kind == "dendrite":
                x = f"a_{ident(term.source)}"
                if term.multiplier:
                    lines.append(f"x = ({x} << {ACTIVATION_SHIFT}) * {term.multiplier}")
                    half = 1 << (PREDICTION_BITS - 1)
                    lines.append(f"x = (x + {half}) >> {PREDICTION_BITS}")
                    x = "x"
            else:
                x = comps[term.source]
            if term.table is not None:
                name = json.dumps(f"{pop.name}.y{factor.slot}.{index}")
                lines.append(f"value = fine_table(TABLES[{name}], {x})")
            else:
                lines.append(f"value = shift({x}, {TABLE_FRACTION - term.shift})")
            sign = "-" if term.gain < 0 else "+"
            lines.append(f"fine[{row}] = fine[{row}] {sign} {abs(term.gain)} * value")
        if factor.const:
            lines.append(f"fine[{row}] = fine[{row}] + {factor.const}")
    shift_ = 12 + TABLE_FRACTION
    offsets = [0, 0, 0]
    for factor in pop.factors:
        offsets[factor.slot - 1] = factor.offset
    lines += [
        f"self.fsum_{pid} = self.fsum_{pid} + fine",
        f"if k % {plan.epoch} == 0:",
        f"    value = self.fsum_{pid} * {(1 << shift_) // plan.epoch}",
        f"    value = (value + {1 << (2 * shift_ - 1)}) >> {2 * shift_}",
        f"    self.fsum_{pid} = np.zeros_like(fine)",
        "else:",
        f"    value = (fine + {1 << (shift_ - 1)}) >> {shift_}",
        f"offsets = np.array({offsets}, dtype=np.int64)[:, None]",
        f"y_{pid} = np.clip(offsets + value, 0, {2**TRACE_BITS - 1})",
    ]
    return lines


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


def _engine_lines(plan: LoihiPlan, proj) -> list[str]:
    """Lava's bit-approximate learning engine for one plastic projection."""
    tid = ident(proj.name)
    post = ident(proj.target)
    rule = proj.plastic
    epoch = plan.epoch
    lines = [
        f"# {proj.name}",
        f"#   dw = {rule.dw_text}",
        *_wrap_comment(f"dt = {rule.dt_text}" if rule.dt_text else "(no tag)"),
        f"s = self.rate_{ident(proj.source)}",
        "spiked = s > 0",
        f"self.x1_{tid}[spiked] = np.round(s[spiked] / 2).astype(np.int64)",
        f"self.tx_{tid}[spiked] = k % {epoch} or {epoch}",
        f"if learn_{post}:",
        f"    self.ty_{tid}[:] = k % {epoch} or {epoch}",
        f"self.y_{tid} = y_{post}",
        f"if k % {epoch} == 0:",
    ]
    body = [
        f"x0 = (self.tx_{tid} > 0).astype(np.int64)[None, :]",
        f"y0 = (self.ty_{tid} > 0).astype(np.int64)[:, None]",
        f"x1 = np.minimum(self.x1_{tid}, 127)[None, :]",
        f"y1, y2, y3 = (self.y_{tid}[i][:, None] for i in range(3))",
        f"w, t = self.w_{tid}, self.tag_{tid}",
    ]
    if rule.dd:
        body.append(f"d = self.d_{tid}")
    products = rule.dw + rule.dd + rule.dt
    decimations = {p.decimation for p in products if p.decimation is not None}
    for dec in sorted(decimations):
        body.append(f"u{dec} = int((k // {epoch}) % {2**dec} == 0)")
    updated = []
    for var, products, low, high in (
        ("w", rule.dw, WEIGHT_MIN, WEIGHT_MAX),
        ("d", rule.dd, 0, 255),
        ("t", rule.dt, TAG_MIN, TAG_MAX),
    ):
        if not products:
            continue
        updated.append(var)
        body.append(f"acc = {var} << {SYNAPSE_SHIFT}")
        for product in products:
            body.append(f"# {product.mantissa}*2^{product.exponent}: {product.meaning}")
            dep = "y0" if product.decimation is None else f"u{product.decimation}"
            body.append(f"mac = {dep} * np.ones_like({var})")
            for name, const in product.factors:
                width = FACTOR_WIDTHS[name]
                inner = name[4:-1] if name.startswith("sgn(") else name
                value = f"{inner} - {-const}" if const else inner
                if name.startswith("sgn("):
                    value = f"np.sign({value})"
                clipped = f"np.clip({value}, {-(2**width)}, {2**width - 1})"
                body.append(f"mac = mac * {clipped}")
            body.append(f"mac = (mac * {product.mantissa}) >> {product.shift}")
            body.append(
                f"mac = np.clip(mac << {product.exponent + 7}, {_ACC_MIN}, {_ACC_MAX})"
            )
            body.append(f"acc = np.clip(acc + mac, {_ACC_MIN}, {_ACC_MAX})")
        if var == "d":
            body.append("acc = np.maximum(acc, 0)")
        body.append(f"new_{var} = stochastic_round(acc, random)")
        body.append(f"new_{var} = np.clip(new_{var}, {low}, {high})")
    names = {"w": "w", "d": "d", "t": "tag"}
    body += [f"self.{names[var]}_{tid} = new_{var}" for var in updated]
    body += [
        f"kept = np.minimum(self.x1_{tid}, 127)",
        f"self.x1_{tid} = np.where(self.tx_{tid} > 0, kept, self.x1_{tid})",
        f"self.tx_{tid}[:] = 0",
        f"self.ty_{tid}[:] = 0",
    ]
    lines += ["    " + line for line in body]
    return lines
