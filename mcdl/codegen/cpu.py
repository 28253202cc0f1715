"""The CPU back end: a checked network rendered into a package of Lava code.

``render_package`` turns a network-level IR and its initial weights into the
files of a Python package (``process.py``, ``models.py``, ``network.py``, the
IR as JSON, the weights, a README), in memory; ``write_package`` writes them
into a folder. The package needs only Lava and numpy. Two layouts:

* ``fused`` (the default): the whole network is one Lava process, and one
  Lava time step presents a whole pattern, so Lava's cost per process and
  time step is paid once per pattern;
* ``layered``: an input process and one process per layer, under a
  hierarchical process; one Lava time step is one time step of the network,
  and the processes exchange their step-``n`` values on a bus.

Both run the time step that ``mcdl.codegen.dynamics`` writes, so they give
the same numbers. The messages between the host and the processes are laid
out here (the command, the record, the state vector, the bus) and written
into ``process.py`` as constants; ``templates/cpu/`` renders the rest.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np

import mcdl
from mcdl import ir
from mcdl.codegen import dynamics
from mcdl.codegen.dynamics import Block, CodegenError, Names, Step
from mcdl.codegen.environment import environment
from mcdl.init import weight_shape

__all__ = ["LAYOUTS", "CodegenError", "render_package", "write_package"]

LAYOUTS = ("fused", "layered")
"""The layouts of the CPU target."""

_CHUNK = {"fused": 8192, "layered": 1024}
"""The most state values one dump or load command moves, per layout.

A layered command travels on the bus every time step, so it is kept small.
"""

_COMMAND_HEADER = 6
"""Operation, evaluate, teach, noise, has-target and index (see process.py)."""

_RECORD_HEADER = 2
"""Operation and serial number (see process.py)."""

GENERATOR_WORDS = 10
"""A noise generator's state in the state vector: numpy's PCG64 as 32-bit words.

Its state and its increment, four words each, lowest first, then
``has_uint32`` and ``uinteger``; ``mcdl.sim`` writes the same words.
"""

GENERATOR_PREFIX = "rng:"
"""The state vector names a population's generator ``rng:<population>``."""

_TEMPLATES = {
    "__init__.py": "common/package_init.py.j2",
    "process.py": "cpu/process.py.j2",
    "models.py": "cpu/models.py.j2",
    "network.py": "cpu/network.py.j2",
    "supervision.py": "common/supervision.py.j2",
    "README.md": "common/README.md.j2",
}
"""The package's files rendered from templates, by path."""


def render_package(
    network: ir.Network,
    weights: Mapping[str, np.ndarray],
    layout: str = "fused",
) -> dict[str, bytes]:
    """Render the package of ``network`` for the CPU target, in memory.

    Args:
        network: the checked network.
        weights: its initial weights, by projection name (``mcdl.init``).
        layout: ``"fused"`` or ``"layered"``.

    Returns:
        The package's files by path relative to the package folder, in sorted
        order; the same input gives the same bytes.

    Raises:
        CodegenError: the layout is unknown, the weights do not fit, or the
            network uses something the back end cannot generate.
    """
    if layout not in LAYOUTS:
        raise CodegenError(f"unknown layout {layout!r}; the CPU target has {LAYOUTS}")
    arrays = _checked_weights(network, weights)
    view = _view(network, layout)
    env = environment()
    files = {
        path: env.get_template(template).render(view=view).encode("utf-8")
        for path, template in _TEMPLATES.items()
    }
    files["network.json"] = _portable_json(network).encode("utf-8")
    for name, array in arrays.items():
        files[f"weights/{name}.npy"] = _npy(array)
    return dict(sorted(files.items()))


def write_package(files: Mapping[str, bytes], out_dir: Path | str) -> Path:
    """Write rendered files into the folder ``out_dir``, replacing it whole.

    The files go into a new folder beside ``out_dir`` that then takes its
    place, so that no one sees a half-written package.

    Returns:
        The folder written.
    """
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for relative, data in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(staging, target)
            shutil.rmtree(old)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


# -- Files that are not templates ---------------------------------------------


def _checked_weights(
    network: ir.Network, weights: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    names = {p.name for p in network.projections}
    unknown = sorted(set(weights) - names)
    if unknown:
        raise CodegenError(f"weights are given for unknown projections {unknown}")
    arrays = {}
    for projection in network.projections:
        if projection.name not in weights:
            raise CodegenError(f"no initial weights for projection {projection.name}")
        array = np.asarray(weights[projection.name], dtype=np.float64)
        shape = weight_shape(network, projection)
        if array.shape != shape:
            raise CodegenError(
                f"the weights of {projection.name} have shape {array.shape}, the "
                f"projection needs {shape}"
            )
        arrays[projection.name] = np.ascontiguousarray(array)
    return arrays


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _portable_json(network: ir.Network) -> str:
    """The IR as JSON, with absolute paths in its spans cut to file names."""

    def portable(value: Any) -> Any:
        if isinstance(value, dict):
            result = {key: portable(item) for key, item in value.items()}
            path = result.get("path")
            if "line" in result and isinstance(path, str):
                if PurePath(path).is_absolute():
                    result["path"] = PurePath(path).name
            return result
        if isinstance(value, list):
            return [portable(item) for item in value]
        return value

    return json.dumps(portable(network.model_dump(mode="json")), indent=2) + "\n"


# -- The layouts of the messages ----------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """A value in a message: its stable name, its variable, offset and shape."""

    name: str
    variable: str
    offset: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def end(self) -> int:
        return self.offset + self.size


def _entries(items: list[tuple[str, str, tuple[int, ...]]], start: int) -> list[_Entry]:
    """Lay ``(name, variable, shape)`` items out one after the other."""
    entries = []
    offset = start
    for name, variable, shape in items:
        entries.append(_Entry(name, variable, offset, shape))
        offset += int(np.prod(shape))
    return entries


@dataclass(frozen=True)
class _Leaf:
    """A leaf process: the populations and projections it holds.

    ``kind`` is ``fused`` (everything), ``input`` (the filters) or ``layer``;
    a projection lives with its target population.
    """

    kind: str
    class_name: str
    attribute: str
    populations: tuple[ir.Population, ...]
    projections: tuple[ir.Projection, ...]
    holds_filters: bool
    owns_output: bool


class _Layout:
    """The processes of a network in one layout, and their messages."""

    def __init__(self, network: ir.Network, layout: str) -> None:
        self.network = network
        self.layout = layout
        self.names = Names(network)
        self.step = Step(network, self.names)
        self.input = network.population(network.input)
        self.output = network.population(network.output)
        self.neurons = [p for p in network.populations if not p.is_input]
        self.plastic = [p for p in network.projections if p.plastic]
        self.prefix = _pascal(network.name) or "Network"
        self.potentials = self._potentials()
        self.state = self._state()
        self.chunk = min(self.state[-1].end, _CHUNK[layout])
        self.command = self._command()
        self.record = self._record()
        self.leaves = self._leaves()
        self.bus = self._bus() if layout == "layered" else []

    def _potentials(self) -> list[_Entry]:
        """Every integrating compartment, in the order of the network."""
        items = []
        for population in self.neurons:
            for compartment in population.compartments:
                if compartment.kind == "integrating":
                    variable = self.names.potential(population.name, compartment.name)
                    name = f"{population.name}.{compartment.name}"
                    items.append((name, variable, (population.size,)))
        return _entries(items, 0)

    def _state(self) -> list[_Entry]:
        """The state vector, in the order of ``mcdl.sim``'s ``state()``."""
        items = [(e.name, e.variable, e.shape) for e in self.potentials]
        names = self.names
        items.append(
            (f"{self.input.name}.rate", names.rate(self.input.name), (self.input.size,))
        )
        target = names.target(self.output.name)
        items.append((f"{self.output.name}.target", target, (self.output.size,)))
        for projection in self.network.projections:
            shape = weight_shape(self.network, projection)
            items.append((projection.name, names.weight(projection.name), shape))
        for projection in self.plastic:
            assert projection.plasticity is not None
            if projection.plasticity.lowpass is not None:
                shape = weight_shape(self.network, projection)
                trace = names.trace(projection.name)
                items.append((f"D:{projection.name}", trace, shape))
        for population in self.neurons:
            if dynamics.noisy(population):
                name = f"{GENERATOR_PREFIX}{population.name}"
                generator = names.generator(population.name)
                items.append((name, generator, (GENERATOR_WORDS,)))
        return _entries(items, 0)

    def population_of(self, entry: _Entry) -> str:
        """The population a state entry belongs to (a projection's: its target)."""
        for projection in self.network.projections:
            if entry.name in (projection.name, f"D:{projection.name}"):
                return projection.target
        if entry.name.startswith(GENERATOR_PREFIX):
            return entry.name[len(GENERATOR_PREFIX) :]
        return entry.name.rsplit(".", 1)[0]

    def _command(self) -> dict[str, int]:
        payload = _COMMAND_HEADER + len(self.plastic)
        size = payload + max(self.input.size + self.output.size, self.chunk)
        return {
            "payload": payload,
            "pattern": payload,
            "target": payload + self.input.size,
            "size": size,
        }

    def _record(self) -> dict[str, int]:
        readout = _RECORD_HEADER
        potentials = readout + self.output.size
        probe = potentials + sum(e.size for e in self.potentials)
        return {"readout": readout, "potentials": potentials, "probe": probe}

    def _leaves(self) -> list[_Leaf]:
        if self.layout == "fused":
            fused = _Leaf(
                kind="fused",
                class_name=f"{self.prefix}Fused",
                attribute="network",
                populations=tuple(self.neurons),
                projections=tuple(self.network.projections),
                holds_filters=True,
                owns_output=True,
            )
            return [fused]
        source = _Leaf(
            kind="input",
            class_name=f"{self.prefix}Input",
            attribute="input_process",
            populations=(),
            projections=(),
            holds_filters=True,
            owns_output=False,
        )
        layers: dict[str, list[ir.Population]] = {}
        for population in self.neurons:
            layers.setdefault(population.layer, []).append(population)
        leaves = [source]
        for layer, populations in layers.items():
            names = {p.name for p in populations}
            leaves.append(
                _Leaf(
                    kind="layer",
                    class_name=f"{self.prefix}{_pascal(layer)}Layer",
                    attribute=f"layer_{layer.replace('.', '_')}",
                    populations=tuple(populations),
                    projections=tuple(
                        p for p in self.network.projections if p.target in names
                    ),
                    holds_filters=False,
                    owns_output=self.output.name in names,
                )
            )
        classes = [leaf.class_name for leaf in leaves] + [f"{self.prefix}Layered"]
        if len(set(classes)) != len(classes):
            raise CodegenError(f"two processes would have the same name: {classes}")
        return leaves

    def _bus(self) -> list[_Entry]:
        """What the layered processes send each other every step.

        After the command: the filtered input and target (from the input
        process), then every population's rate and potentials (from its layer).
        """
        items = [entry for entry in self.state if entry.variable in self._filters()]
        rows = [(e.name, e.variable, e.shape) for e in items]
        for leaf in self.leaves:
            for population in leaf.populations:
                rate = self.names.rate(population.name)
                rows.append((f"{population.name}.rate", rate, (population.size,)))
                for entry in self.potentials:
                    if entry.name.rsplit(".", 1)[0] == population.name:
                        rows.append((entry.name, entry.variable, entry.shape))
        return _entries(rows, self.command["size"])

    def _filters(self) -> set[str]:
        return {self.names.rate(self.input.name), self.names.target(self.output.name)}

    def owned(self, leaf: _Leaf) -> list[_Entry]:
        """The entries of the state vector that ``leaf`` holds, in order."""
        variables = self._filters() if leaf.holds_filters else set()
        for population in leaf.populations:
            for compartment in population.compartments:
                if compartment.kind == "integrating":
                    variables.add(
                        self.names.potential(population.name, compartment.name)
                    )
            variables.add(self.names.generator(population.name))
        for projection in leaf.projections:
            variables.add(self.names.weight(projection.name))
            variables.add(self.names.trace(projection.name))
        return [e for e in self.state if e.variable in variables]


# -- The view the templates render --------------------------------------------


def _pascal(name: str) -> str:
    """``hidden_layer`` and ``hidden.pyr`` become ``HiddenLayer``, ``HiddenPyr``."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    return "".join(w[0].upper() + w[1:] for w in words)


def _is_generator(entry: _Entry) -> bool:
    return entry.name.startswith(GENERATOR_PREFIX)


def _plain_file_name(path: str) -> str:
    """The spec's file name as docstrings and the README show it.

    A file name is the one string of the package that the spec's author does
    not write in MCDL, and it may hold quotes, backslashes or new lines; any
    character but ASCII letters, digits and ``._+-`` becomes ``_``, so that it
    cannot end a docstring.
    """
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", PurePath(path).name)
    return name or "spec"


def _number(value: float) -> str:
    return repr(float(value)).replace("e+", "e")


def _q(text: str) -> str:
    return json.dumps(text)


def _row(items: list[str], indent: int) -> str:
    """A tuple literal as an item of a table at ``indent``: one line if it fits.

    Otherwise one item per line, as ``ruff format`` writes it; the lines after
    the first carry their own indentation.
    """
    line = f"({', '.join(items)})"
    if indent + len(line) + 1 <= dynamics.WIDTH:
        return line
    inner = " " * (indent + 4)
    return "(\n" + "".join(f"{inner}{item},\n" for item in items) + " " * indent + ")"


def _tuple_value(head: str, items: list[str], indent: int) -> str:
    """``head`` and a tuple of ``items`` at ``indent``, as ``ruff format`` writes it."""
    line = f"({', '.join(items)})"
    if indent + len(head) + len(line) <= dynamics.WIDTH:
        return head + line
    inner = " " * (indent + 4)
    rows = "".join(f"{inner}{item},\n" for item in items)
    return f"{head}(\n{rows}{' ' * indent})"


def _fit(line: str, alternative: str) -> str:
    """``line`` if it is at most as wide as a line may be, else ``alternative``."""
    return line if len(line) <= dynamics.WIDTH else alternative


def _example(name: str) -> str:
    """A potential's name to show in a docstring, or a pattern if it is long."""
    return name if len(name) <= 30 else "<population>.<compartment>"


def _concatenation(block: Block, name: str, parts: list[str]) -> None:
    """Write ``name = np.concatenate([parts])``, one part a line."""
    block.line(f"{name} = np.concatenate(")
    block.line("    [")
    for part in parts:
        block.line(f"        {part},")
    block.line("    ]")
    block.line(")")


def _call(block: Block, head: str, arguments: list[str]) -> None:
    """Write ``head(arguments)`` on one line, or one argument a line if too long."""
    line = f"{head}({', '.join(arguments)})"
    if block.indent + len(line) <= dynamics.WIDTH:
        block.line(line)
        return
    block.line(f"{head}(")
    for argument in arguments:
        block.line(f"    {argument},")
    block.line(")")


def _uses(code: str, name: str) -> bool:
    """Whether the identifier ``name`` occurs in ``code`` (comments aside)."""
    lines = (line.split("#", 1)[0] for line in code.splitlines())
    return re.search(rf"\b{re.escape(name)}\b", "\n".join(lines)) is not None


class _LeafView:
    """Writes the view of one leaf: its Vars, ports and the code of its step."""

    def __init__(self, layout: _Layout, leaf: _Leaf) -> None:
        self.layout = layout
        self.leaf = leaf
        self.names = layout.names
        self.step = layout.step
        owned = layout.owned(leaf)
        self.owned = [e for e in owned if not _is_generator(e)]
        self.generators = [e for e in owned if _is_generator(e)]

    def view(self) -> dict[str, Any]:
        layout, leaf, names = self.layout, self.leaf, self.names
        owned = self.owned
        variables = {e.variable for e in owned}
        potentials = [e for e in layout.potentials if e.variable in variables]
        plastic = [p for p in leaf.projections if p.plastic]
        readout = dynamics.readout(layout.network).compartment
        view: dict[str, Any] = {
            "kind": leaf.kind,
            "class_name": leaf.class_name,
            "model_name": f"Py{leaf.class_name}Model",
            "attribute": leaf.attribute,
            "projections": [p.name for p in leaf.projections],
            "owns_output": leaf.owns_output,
            "vars": [
                {"name": e.variable, "shape": repr(e.shape), "line": self._var(e)}
                for e in owned
            ],
            "state_pairs": [_row([_q(e.variable), str(e.offset)], 8) for e in owned],
            "state_locals": [e.variable for e in owned],
            "rebound": [
                e.variable
                for e in owned
                if not e.variable.startswith(("weight_", "trace_"))
            ],
            "potential_ranges": [f"({e.offset}, {e.end})" for e in potentials],
            "potential_locals": [e.variable for e in potentials],
            "readout_name": names.potential(layout.output.name, readout),
            "generators": [
                {
                    "name": names.generator(p.name),
                    "index": layout.network.populations.index(p),
                }
                for p in leaf.populations
                if dynamics.noisy(p)
            ],
            "generator_pairs": [
                _row([_q(e.variable), str(e.offset)], 8) for e in self.generators
            ],
            "learn_flags": [
                {"name": names.learn(p.name), "index": layout.plastic.index(p)}
                for p in plastic
            ],
            "plastic": bool(plastic),
            "listeners": [],
            "imported": set(),
        }
        view.update(self._code())
        code = "\n".join([*view["step"], *view["noise"]])
        view["uses_teach"] = _uses(code, "teach")
        view["uses_noise"] = _uses(code, "noisy")
        view["summary"], view["model_summary"], view["details"] = self._summaries()
        return view

    def _code(self) -> dict[str, Any]:
        leaf, names = self.leaf, self.names
        if leaf.kind == "fused":
            return {
                "in_ports": [{"name": "command", "size": "COMMAND_SIZE"}],
                "out_ports": [],
                **self._fused(),
            }
        if leaf.kind == "input":
            block = Block(8)
            self.step.filters(block, "pattern", "target")
            return {
                "in_ports": [{"name": "command", "size": "COMMAND_SIZE"}],
                "out_ports": [{"name": "bus_out", "size": "BUS_SIZE"}],
                "noise": [],
                "step": block.lines,
                "exports": self._exports("self."),
            }
        block = Block(8)
        self.step.rates(block, leaf.populations)
        rates = [names.rate(p.name) for p in leaf.populations]
        step = self._step(8, "0", filters=False)
        code = "\n".join(step)
        own = {e.variable for e in self.owned} | set(rates)
        imports = [
            e
            for e in self.layout.bus
            if e.variable not in own and _uses(code, e.variable)
        ]
        return {
            "in_ports": [{"name": "bus_in", "size": "BUS_SIZE"}],
            "out_ports": [{"name": "bus_out", "size": "BUS_SIZE"}],
            "rates": block.lines,
            "rate_locals": rates,
            "used_rates": [name for name in rates if _uses(code, name)],
            "exports": self._exports(""),
            "imports": [
                f"        {e.variable} = bus[{e.offset}:{e.end}]" for e in imports
            ],
            "imported": {e.variable for e in imports},
            "noise": self._noise(8, "1"),
            "step": step,
        }

    def _fused(self) -> dict[str, Any]:
        """The fused model's buffers: potentials, and the plastic projections'.

        The potentials are views of one buffer (in the order of
        ``process.POTENTIALS``), which a step moves in place and to which it
        adds the step's noise at once. The plastic projections' weights,
        traces and updates are views of flat buffers, one set for those with a
        low-pass (``filtered``) and one for those without (``direct``), so
        that the projections that learn move together in a few operations.
        """
        names, network = self.names, self.layout.network
        step = self._step(12, "k", filters=True, fused=True)
        code = "\n".join(step)
        prelude = Block(8)
        epilogue = Block(8)
        tables = []
        potentials = self.layout.potentials
        variables = tuple(e.variable for e in potentials)
        tables.append({"name": "_POTENTIAL_VARS", "rows": [_q(v) for v in variables]})
        prelude.line("potentials = self._gather(self._POTENTIAL_VARS)")
        for entry in potentials:
            prelude.line(f"{entry.variable} = potentials[{entry.offset}:{entry.end}]")
        epilogue.line("self._scatter(self._POTENTIAL_VARS, potentials)")
        if _uses(code, "currents"):
            prelude.line("currents = np.zeros(process.POTENTIALS_SIZE)")
            for entry in potentials:
                population, compartment = entry.name.rsplit(".", 1)
                current = names.current(population, compartment)
                prelude.line(f"{current} = currents[{entry.offset}:{entry.end}]")
        if _uses(code, "steps"):
            parts = []
            for entry in potentials:
                population, compartment = entry.name.rsplit(".", 1)
                held = network.population(population).compartment(compartment)
                ratio = network.dt / held.capacitance
                parts.append(f"np.full({entry.size}, {_number(ratio)})")
            _concatenation(prelude, "steps", parts)
        if _uses(code, "rates"):
            prelude.line("rates = np.zeros(process.POTENTIALS_SIZE)")
            for entry in potentials:
                population = entry.name.rsplit(".", 1)[0]
                prelude.line(
                    f"{names.rate(population)} = rates[{entry.offset}:{entry.end}]"
                )
        watched = ["potentials"]
        for variable in sorted(self._filters(), key=self._order):
            prelude.line(f"{variable} = self.{variable}")
            epilogue.line(f"self.{variable} = {variable}")
            watched.append(variable)
        filtered, direct = self.step.consolidation(self.leaf.projections)
        plastic = set(filtered) | set(direct)
        for projection in self.leaf.projections:
            if projection not in plastic:
                weight = names.weight(projection.name)
                prelude.line(f"{weight} = self.{weight}")
        groups = [
            ("filtered", filtered, ("weight", "trace")),
            ("direct", direct, ("weight",)),
        ]
        for group, projections, kinds in groups:
            if not projections:
                continue
            key = group.upper()
            buffers = []
            for kind in kinds:
                table = f"_{key}_{kind.upper()}S"
                variables = [getattr(names, kind)(p.name) for p in projections]
                tables.append({"name": table, "rows": [_q(v) for v in variables]})
                buffer = f"{group}_{kind}s"
                buffers.append(buffer)
                watched.append(buffer)
                prelude.line(f"{buffer} = self._gather(self.{table})")
                epilogue.line(f"self._scatter(self.{table}, {buffer})")
            prelude.line(f"{group}_updates = np.zeros_like({group}_weights)")
            buffers += [f"{group}_updates", f"np.zeros_like({group}_weights)"]
            spans, offset = [], 0
            gains = []
            for projection in projections:
                shape = weight_shape(network, projection)
                size = int(np.prod(shape))
                reshape = f".reshape{shape!r}" if len(shape) > 1 else ""
                for kind in (*kinds, "update"):
                    variable = getattr(names, kind)(projection.name)
                    view = f"{group}_{kind}s[{offset}:{offset + size}]{reshape}"
                    if _uses(code, variable):
                        prelude.line(f"{variable} = {view}")
                index = self.layout.plastic.index(projection)
                spans.append(f"({index}, {offset}, {offset + size})")
                if projection.plasticity.lowpass is not None:
                    gains.append((network.dt / projection.plasticity.lowpass, size))
                offset += size
            tables.append({"name": f"_{key}_SPANS", "rows": spans})
            if group == "filtered" and len({gain for gain, _ in gains}) > 1:
                parts = [f"np.full({size}, {_number(gain)})" for gain, size in gains]
                _concatenation(prelude, "gains", parts)
                buffers.append("gains")
            _call(
                prelude,
                f"{group}_runs = _runs",
                ["learn", f"self._{key}_SPANS", *buffers],
            )
        return {
            "prelude": prelude.lines,
            "epilogue": epilogue.lines,
            "tables": tables,
            "noise": self._fused_noise(),
            "step": step,
            "watched": _tuple_value("watched = ", watched, 16),
        }

    def _filters(self) -> set[str]:
        return self.layout._filters() if self.leaf.holds_filters else set()

    def _order(self, variable: str) -> int:
        return [e.variable for e in self.layout.state].index(variable)

    def _fused_noise(self) -> list[str]:
        """Draw a pattern's noise, for every potential of the buffer at once.

        Each population draws one ``(steps, size * noisy compartments)`` block
        from its own generator, as ``mcdl.sim`` does; compartment ``j`` takes
        columns ``j * size`` on, scaled by ``sigma * sqrt(dt)``.
        """
        populations = [p for p in self.leaf.populations if dynamics.noisy(p)]
        if not populations:
            return []
        offsets = {e.name: e.offset for e in self.layout.potentials}
        block = Block(8)
        with block.nested("if noisy:"):
            block.line("shape = (process.PATTERN_STEPS, process.POTENTIALS_SIZE)")
            block.line("noise = np.zeros(shape)")
            for population in populations:
                compartments = dynamics.noisy(population)
                size = population.size
                width = size * len(compartments)
                block.line(f"generator = self.{self.names.generator(population.name)}")
                shape = f"(process.PATTERN_STEPS, {width})"
                block.line(f"draws = generator.standard_normal({shape})")
                for column, compartment in enumerate(compartments):
                    scale = _number(
                        dynamics.noise_scale(self.layout.network, compartment)
                    )
                    start = offsets[f"{population.name}.{compartment.name}"]
                    first = column * size
                    block.line(
                        f"noise[:, {start}:{start + size}] = "
                        f"{_number(scale)} * draws[:, {first}:{first + size}]"
                    )
        return block.lines

    def _exports(self, holder: str) -> list[str]:
        """The lines that put this leaf's step-``n`` values on the bus."""
        own = {e.variable for e in self.owned}
        own |= {self.names.rate(p.name) for p in self.leaf.populations}
        return [
            f"        bus[{e.offset}:{e.end}] = {holder}{e.variable}"
            for e in self.layout.bus
            if e.variable in own
        ]

    def _var(self, entry: _Entry) -> str:
        """The line of ``process.py`` that makes the Var of ``entry``."""
        line = f"        self.{entry.variable} = Var({entry.shape!r}, init={{}})"
        init = self._init(entry)
        index = self.layout.state.index(entry)
        short = init.replace(_q(entry.name), f"STATE[{index}][0]")
        return _fit(line.format(init), line.format(short))

    def _init(self, entry: _Entry) -> str:
        """The initial value of a Var: rest, zero, or the given weights."""
        if entry.variable.startswith("weight_"):
            return f"_weights(weights, {_q(entry.name)})"
        if entry.variable.startswith("u_"):
            population, compartment = entry.name.rsplit(".", 1)
            network = self.layout.network
            rest = network.population(population).compartment(compartment).rest
            if rest != 0.0:
                return f"np.full({entry.size}, {_number(rest)})"
        shape = entry.shape[0] if len(entry.shape) == 1 else repr(entry.shape)
        return f"np.zeros({shape})"

    def _summaries(self) -> tuple[str, str, str]:
        """The docstrings' first lines (process, model) and what follows."""
        name = self.layout.network.name
        if self.leaf.kind == "fused":
            text = f"The whole {name} network in one process, on float64 state."
            return text, text, ""
        if self.leaf.kind == "input":
            text = f"The filtered input and target of the {name} network."
            return text, text, ""
        layer = self.leaf.populations[0].layer
        populations = ", ".join(f"``{p.name}``" for p in self.leaf.populations)
        process = f"Layer ``{layer}`` of the {name} network."
        model = f"Layer ``{layer}`` in float64."
        details = (
            f"Its populations: {populations}. Each Lava time step is one time "
            "step of the network."
        )
        return process, model, details

    def _noise(self, indent: int, rows: str) -> list[str]:
        """Draw a pattern's (or a step's) noise in the blocks ``mcdl.sim`` draws.

        Each population draws one ``(rows, size * noisy compartments)`` block
        from its own generator; compartment ``j`` takes columns ``j * size``
        on, scaled by ``sigma * sqrt(dt)``.
        """
        populations = [p for p in self.leaf.populations if dynamics.noisy(p)]
        if not populations:
            return []
        block = Block(indent)
        with block.nested("if noisy:"):
            for population in populations:
                compartments = dynamics.noisy(population)
                size = population.size
                width = size * len(compartments)
                block.line(f"generator = self.{self.names.generator(population.name)}")
                block.line(f"draws = generator.standard_normal(({rows}, {width}))")
                for column, compartment in enumerate(compartments):
                    scale = _number(
                        dynamics.noise_scale(self.layout.network, compartment)
                    )
                    name = self.names.noise(population.name, compartment.name)
                    start = column * size
                    block.line(f"{name} = {scale} * draws[:, {start}:{start + size}]")
        return block.lines

    def _step(
        self, indent: int, row: str, filters: bool, fused: bool = False
    ) -> list[str]:
        """The code of one time step of this leaf's populations."""
        step, populations = self.step, self.leaf.populations
        block = Block(indent)
        if filters:
            block.comment("Filters of the input and the target.")
            step.filters(block, "pattern", "target")
            block.comment("Rates, from the potentials of step n.")
            shared = step.shared_rate(populations) if fused else None
            step.rates(block, populations, shared)
        dendrites = Block(indent)
        step.dendrites(dendrites, populations)
        if dendrites.lines:
            block.comment("Dendrites: the sums of their projections.")
            block.lines.extend(dendrites.lines)
        block.comment("Integrating compartments: their currents.")
        step.compartments(block, populations, row, buffered=fused)
        plastic = [p for p in self.leaf.projections if p.plastic]
        if plastic:
            block.comment("Plasticity, once the network has settled.")
            with block.nested("if plastic and k >= process.SETTLE_STEPS:"):
                step.plasticity(block, plastic, consolidated=fused)
        block.comment("The new potentials replace those of step n.")
        step.commit(block, populations, buffered=fused, noise="potentials += noise[k]")
        return block.lines


def _view(network: ir.Network, layout_name: str) -> dict[str, Any]:
    """Return everything the templates of a layout render, from the IR."""
    layout = _Layout(network, layout_name)
    names, protocol = layout.names, network.protocol
    leaves = [_LeafView(layout, leaf).view() for leaf in layout.leaves]
    if layout_name == "layered":
        _connect(leaves, layout.bus)
        top = {
            "class_name": f"{layout.prefix}Layered",
            "model_name": f"Sub{layout.prefix}LayeredModel",
        }
        model_map = [top, *leaves]
    else:
        top = {
            "class_name": leaves[0]["class_name"],
            "model_name": leaves[0]["model_name"],
        }
        model_map = leaves
    host = Block(4)
    layout.step.rates(host, layout.neurons)
    potentials = layout.potentials
    return {
        "version": mcdl.__version__,
        "name": network.name,
        "layout": layout_name,
        "target": "cpu",
        "target_title": f"CPU, float64, layout {layout_name}",
        "source_file": _plain_file_name(network.source.file),
        "sha256": network.source.sha256,
        "dt": _number(network.dt),
        "seed": network.seed,
        "pattern_steps": dynamics.steps(network, protocol.pattern),
        "settle_steps": dynamics.steps(network, protocol.settle),
        "readout_steps": dynamics.steps(network, protocol.readout),
        "input_size": layout.input.size,
        "output_size": layout.output.size,
        "input_name": layout.input.name,
        "output_name": layout.output.name,
        "target_high": _number(protocol.target_high),
        "target_low": _number(protocol.target_low),
        "plastic_names": [p.name for p in layout.plastic],
        "potentials_table": [_row([_q(e.name), str(e.size)], 4) for e in potentials],
        "potentials_size": sum(e.size for e in potentials),
        "example_potential": _example(potentials[0].name),
        "example_rate": _example(f"{layout.input.name}.rate"),
        "example_target": _example(f"{layout.output.name}.target"),
        "state_table": [
            _row([_q(e.name), _q(e.variable), str(e.offset), repr(e.shape)], 4)
            for e in layout.state
        ],
        "state_size": layout.state[-1].end,
        "state_populations": [
            _row([_q(e.name), _q(layout.population_of(e))], 4) for e in layout.state
        ],
        "generator_words": GENERATOR_WORDS,
        "chunk": layout.chunk,
        "command": layout.command,
        "record": layout.record,
        "bus_table": [
            _row([_q(e.name), str(e.offset), str(e.size)], 4) for e in layout.bus
        ],
        "bus_size": layout.bus[-1].end if layout.bus else 0,
        "leaves": leaves,
        "input_leaf": leaves[0],
        "layer_leaves": leaves[1:],
        "top": top,
        "model_map": model_map,
        "projection_shapes": [
            (p.name, repr(weight_shape(network, p))) for p in network.projections
        ],
        "commands_per_pattern": "1"
        if layout_name == "fused"
        else "process.PATTERN_STEPS",
        "ahead": 4 if layout_name == "fused" else 32,
        "steps_per_run": "256" if layout_name == "fused" else "process.PATTERN_STEPS",
        "phases": [_phase(phase) for phase in protocol.phases],
        "rate_inputs": [
            _fit(
                f"    {e.variable} = potentials[{_q(e.name)}]",
                f"    {e.variable} = potentials[process.POTENTIALS[{index}][0]]",
            )
            for index, e in enumerate(potentials)
        ],
        "host_rates": host.lines,
        "rate_outputs": [
            (f"{p.name}.rate", names.rate(p.name)) for p in layout.neurons
        ],
        "population_rows": [_population_row(p) for p in network.populations],
        "projection_rows": [_projection_row(network, p) for p in network.projections],
    }


def _connect(leaves: list[dict[str, Any]], bus: list[_Entry]) -> None:
    """Say which leaves listen to each leaf's bus: those that read from it."""
    for leaf in leaves:
        exported = {
            e.variable for e in bus if _uses("\n".join(leaf["exports"]), e.variable)
        }
        leaf["listeners"] = [
            other["attribute"]
            for other in leaves[1:]
            if other is not leaf
            and (leaf["kind"] == "input" or other["imported"] & exported)
        ]


def _phase(phase: ir.Phase) -> dict[str, Any]:
    return {
        "name": phase.name,
        "patterns": repr(phase.patterns),
        "epochs": repr(phase.epochs),
        "input": phase.input,
        "teach": repr(phase.teach),
        "noise": repr(phase.noise),
        "learn": list(phase.learn),
    }


def _population_row(population: ir.Population) -> dict[str, Any]:
    compartments = ", ".join(f"{c.name} ({c.kind})" for c in population.compartments)
    return {
        "name": population.name,
        "layer": population.layer,
        "size": population.size,
        "compartments": compartments or "input",
    }


def _projection_row(network: ir.Network, projection: ir.Projection) -> dict[str, Any]:
    plasticity = projection.plasticity
    return {
        "name": projection.name,
        "source": f"{projection.source}.{projection.source_var}",
        "target": f"{projection.target}.{projection.compartment}",
        "shape": " x ".join(str(n) for n in weight_shape(network, projection)),
        "plastic": plasticity.rule if plasticity is not None else "no",
    }
