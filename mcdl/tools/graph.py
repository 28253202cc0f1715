"""A drawing of a checked network, as Graphviz DOT text.

``to_dot`` turns the network-level IR into a DOT graph; ``render`` runs
Graphviz's ``dot`` on it to make an SVG, PNG or PDF. What is drawn:

* every layer is a cluster holding its populations; an input is a node of
  its own below them;
* every population is a cluster titled ``NAME: Type [size]`` with its
  transfer function, holding one node per compartment (integrating
  compartments as ellipses with their leak and noise, dendrites as boxes
  with their prediction factor) and the couplings between them as edges
  labelled with their conductance;
* every projection is an edge from the compartment that sets the source's
  rate (or the potential sent) to the target compartment, labelled with its
  name and its rule: solid and blue if plastic, dashed and grey if fixed;
* every nudging is a dotted orange edge, from a ``target`` node (the
  teaching signal) or one to one from another population's compartment.

The layout goes bottom-up: the input at the bottom, each layer above the
one before (in declaration order), and in a population its dendrites below
the soma, except a dendrite whose inputs come from higher layers on average
(an apical dendrite), which is drawn above it. The DOT text depends only on
the network: nodes and edges come in the IR's order, attributes sorted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from mcdl import ir
from mcdl.files import replace_atomically

#: Output formats ``render`` can make, by file suffix.
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

_PLASTIC = "#1f5fbf"
_FIXED = "#777777"
_NUDGE = "#d9730d"
_FONT = "Helvetica"

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` program is not installed."""


def quote(text: str) -> str:
    """``text`` as a quoted DOT identifier, every character taken literally."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def label(*lines: str) -> str:
    """A quoted DOT label of centred ``lines``."""
    body = "\\n".join(quote(line)[1:-1] for line in lines)
    return f'"{body}"'


def expression(expr: ir.Expr) -> str:
    """A compact, fully parenthesised-where-needed text of ``expr``."""
    return _expr(expr, 0)


def _expr(expr, outer: int) -> str:
    if isinstance(expr, ir.Num):
        unit = f" {expr.unit}" if expr.unit else ""
        return f"{expr.value:g}{unit}"
    if isinstance(expr, ir.Ref):
        return expr.dotted
    if isinstance(expr, ir.Unary):
        return "-" + _expr(expr.operand, 3)
    if isinstance(expr, ir.Call):
        args = [_expr(a, 0) for a in expr.args]
        args += [f"{k.name} = {_expr(k.value, 0)}" for k in expr.keywords]
        return f"{expr.func}({', '.join(args)})"
    level = _PRECEDENCE[expr.op]
    right = level + (0 if expr.op == "**" else 1)
    left = level + (1 if expr.op == "**" else 0)
    text = f"{_expr(expr.left, left)} {expr.op} {_expr(expr.right, right)}"
    return f"({text})" if level < outer else text


def to_dot(network: ir.Network) -> str:
    """The DOT text of the drawing of ``network``."""
    return _Drawing(network).dot()


def render(dot: str, output: Path) -> None:
    """Write the drawing ``dot`` to ``output`` in the format of its suffix.

    The file is replaced atomically. Raises ``ValueError`` for a suffix not in
    ``FORMATS``, ``GraphvizMissing`` if a picture is asked for and ``dot`` is
    not installed, and ``RuntimeError`` if ``dot`` fails.
    """
    output = Path(output)
    kind = FORMATS.get(output.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"cannot tell the format of {output}: use one of {known}")
    if kind == "dot":
        data = dot.encode("utf-8")
    else:
        program = shutil.which("dot")
        if program is None:
            raise GraphvizMissing(
                "Graphviz's 'dot' program is not installed (Debian: apt-get "
                "install graphviz); write a .dot file to render it elsewhere"
            )
        proc = subprocess.run(
            [program, f"-T{kind}"],
            input=dot.encode("utf-8"),
            capture_output=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"dot failed (exit {proc.returncode}): {message}")
        data = proc.stdout
    write_atomically(output, data)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that no reader sees a partial file.

    The data goes to a temporary file in the same folder, which then takes
    the place of ``path``; an existing file's permissions are kept.
    """
    path = Path(path)
    if path.exists():
        mode = path.stat().st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    replace_atomically(path, lambda stream: stream.write(data), mode)


def _attributes(**values: str) -> str:
    """``[a=1, b=2]`` with the attributes sorted by name; values are DOT text."""
    return "[" + ", ".join(f"{k}={v}" for k, v in sorted(values.items())) + "]"


class _Drawing:
    def __init__(self, network: ir.Network) -> None:
        self.network = network
        self.lines: list[str] = []
        layers = [p.layer for p in network.populations if not p.is_input]
        self.level = {layer: 1 + n for n, layer in enumerate(dict.fromkeys(layers))}
        for population in network.populations:
            if population.is_input:
                self.level[population.layer] = 0

    def dot(self) -> str:
        network = self.network
        self.add(f"digraph {quote(network.name)} {{")
        self.add(
            "    graph "
            + _attributes(
                fontname=quote(_FONT),
                label=label(f"network {network.name}"),
                labelloc="t",
                newrank="true",
                nodesep="0.35",
                rankdir="BT",
                ranksep="0.45",
            )
        )
        self.add(f"    node {_attributes(fontname=quote(_FONT), fontsize='11')}")
        self.add(f"    edge {_attributes(fontname=quote(_FONT), fontsize='10')}")
        for population in network.populations:
            if population.is_input:
                self.input(population)
        layers = dict.fromkeys(p.layer for p in network.populations if not p.is_input)
        for layer in layers:
            self.layer(layer, [p for p in network.populations if p.layer == layer])
        if any(n.source is None for n in network.nudgings):
            self.add(
                f"    {quote('target')} "
                + _attributes(
                    color=quote(_NUDGE),
                    fontcolor=quote(_NUDGE),
                    label=label("target", "(teaching signal)"),
                    shape="note",
                )
            )
        self.legend()
        self.skeleton()
        for projection in network.projections:
            self.projection(projection)
        for nudging in network.nudgings:
            self.nudging(nudging)
        self.add("}")
        return "\n".join(self.lines) + "\n"

    def add(self, line: str) -> None:
        self.lines.append(line)

    def legend(self) -> None:
        lines = [
            "ellipse: integrating compartment",
            "box: dendrite",
            "blue: plastic projection",
            "grey dashed: fixed projection",
            "orange dotted: nudging",
        ]
        text = "".join(quote(line)[1:-1] + "\\l" for line in lines)
        self.add(
            f"    {quote('legend')} "
            + _attributes(
                color=quote("#bbbbbb"),
                fontsize="9",
                label=f'"{text}"',
                shape="box",
                style="rounded",
            )
        )

    # -- populations ----------------------------------------------------

    def input(self, population: ir.Population) -> None:
        self.add(
            f"    {quote(population.name)} "
            + _attributes(
                fillcolor=quote("#eeeeee"),
                label=label(population.name, f"input [{population.size}]"),
                shape="house",
                style="filled",
            )
        )

    def layer(self, name: str, populations: list[ir.Population]) -> None:
        self.add(f"    subgraph {quote('cluster_layer_' + name)} {{")
        title = label(f"layer {name}")
        self.add(
            "        graph "
            + _attributes(
                color=quote("#999999"), label=title, labelloc="b", style="rounded"
            )
        )
        for population in populations:
            self.population(population)
        self.add("    }")

    def population(self, population: ir.Population) -> None:
        short = population.name.split(".", 1)[-1]
        title = f"{short}: {population.neuron} [{population.size}]"
        rate = f"rate = {expression(population.rate)}" if population.rate else ""
        self.add(f"        subgraph {quote('cluster_' + population.name)} {{")
        self.add(
            "            graph "
            + _attributes(
                fillcolor=quote("#f4f7fc"),
                label=label(*(line for line in (title, rate) if line)),
                labelloc="b",
                style=quote("rounded,filled"),
            )
        )
        for compartment in population.compartments:
            self.compartment(population, compartment)
        above = self.dendrites_above(population)
        for coupling in population.couplings:
            source = quote(f"{population.name}.{coupling.source}")
            target = quote(f"{population.name}.{coupling.target}")
            attributes = {"label": label(f"g = {coupling.conductance:g}")}
            if coupling.source in above:
                # Drawn from the soma up to the dendrite, arrow at the soma.
                attributes["dir"] = "back"
                source, target = target, source
            self.add(f"            {source} -> {target} {_attributes(**attributes)}")
        self.add("        }")

    def compartment(self, population: ir.Population, compartment: ir.Compartment):
        node = quote(f"{population.name}.{compartment.name}")
        if compartment.kind == "dendrite":
            details = []
            if compartment.prediction is not None:
                details.append(f"prediction {compartment.prediction.factor:.3g}")
            attributes = {
                "label": label(compartment.name, *details),
                "shape": "box",
                "style": quote("rounded,filled"),
                "fillcolor": quote("#ffffff"),
            }
        else:
            details = [f"leak {compartment.leak:g}"] if compartment.leak else []
            if compartment.noise:
                details.append(f"noise {compartment.noise:g}")
            if compartment.capacitance != 1:
                details.append(f"C {compartment.capacitance:g}")
            if compartment.rest:
                details.append(f"rest {compartment.rest:g}")
            lines = [compartment.name, ", ".join(details)]
            if compartment.current is not None:
                lines.append(f"current = {expression(compartment.current)}")
            attributes = {
                "label": label(*(line for line in lines if line)),
                "shape": "ellipse",
                "style": "filled",
                "fillcolor": quote("#dde8f8"),
            }
        self.add(f"            {node} {_attributes(**attributes)}")

    def dendrites_above(self, population: ir.Population) -> set[str]:
        """The dendrites fed on average from higher layers than their own."""
        own = self.level[population.layer]
        above = set()
        for compartment in population.compartments:
            levels = [
                self.level[self.network.population(p.source).layer]
                for p in self.network.projections
                if p.target == population.name and p.compartment == compartment.name
            ]
            if compartment.kind == "dendrite" and levels:
                if sum(levels) / len(levels) > own:
                    above.add(compartment.name)
        return above

    # -- connections ----------------------------------------------------

    def sender(self, name: str, variable: str) -> str:
        """The node a population sends ``variable`` (``rate`` or a potential) from."""
        population = self.network.population(name)
        if population.is_input:
            return quote(name)
        if variable == "rate":
            variable = self.rate_compartment(population)
        return quote(f"{name}.{variable}")

    @staticmethod
    def rate_compartment(population: ir.Population) -> str:
        """The first integrating compartment the rate reads (else the first)."""
        integrating = [c.name for c in population.compartments if c.kind != "dendrite"]
        read: list[str] = []

        def visit(expr) -> None:
            if isinstance(expr, ir.Ref):
                read.append(expr.parts[0])
            for child in ("operand", "left", "right"):
                if hasattr(expr, child):
                    visit(getattr(expr, child))
            for arg in getattr(expr, "args", ()):
                visit(arg)
            for keyword in getattr(expr, "keywords", ()):
                visit(keyword.value)

        if population.rate is not None:
            visit(population.rate)
        for name in read:
            if name in integrating:
                return name
        return integrating[0] if integrating else population.compartments[0].name

    def level_of(self, population: str) -> int:
        return self.level[self.network.population(population).layer]

    def somas(self, level: int) -> list[str]:
        nodes = []
        for population in self.network.populations:
            if self.level[population.layer] != level:
                continue
            nodes.append(self.sender(population.name, "rate"))
        return nodes

    def skeleton(self) -> None:
        """Invisible edges that stack the levels: input, layer 1, layer 2, ..."""
        top = max(self.level.values(), default=0)
        for level in range(top):
            for lower in self.somas(level):
                for upper in self.somas(level + 1):
                    edge = _attributes(minlen="3", style="invis")
                    self.add(f"    {lower} -> {upper} {edge}")

    def projection(self, projection: ir.Projection) -> None:
        source = self.sender(projection.source, projection.source_var)
        target = quote(f"{projection.target}.{projection.compartment}")
        lines = [projection.name]
        if projection.source_var != "rate":
            lines.append(f"({projection.source_var} potential)")
        if projection.plasticity is not None:
            lines.append(f"learn {projection.plasticity.rule}")
        else:
            lines.append("fixed")
        if projection.one_to_one:
            lines.append("one-to-one")
        colour = _PLASTIC if projection.plastic else _FIXED
        upward = self.level_of(projection.source) < self.level_of(projection.target)
        attributes = {
            "color": quote(colour),
            "constraint": "true" if upward else "false",
            "fontcolor": quote(colour),
            "label": label(*lines),
            "penwidth": "1.6" if projection.plastic else "1.2",
            "style": "solid" if projection.plastic else "dashed",
        }
        self.add(f"    {source} -> {target} {_attributes(**attributes)}")

    def nudging(self, nudging: ir.Nudging) -> None:
        target = quote(f"{nudging.target}.{nudging.compartment}")
        lines = [f"nudge g = {nudging.conductance:g}"]
        if nudging.form == "conductance":
            lines.append(f"E_exc {nudging.e_exc:g}, E_inh {nudging.e_inh:g}")
        attributes = {
            "arrowhead": "empty",
            "color": quote(_NUDGE),
            "fontcolor": quote(_NUDGE),
            "style": "dotted",
            "penwidth": "1.6",
        }
        if nudging.source is None:
            # Drawn up from the output to the target node, arrow at the output,
            # so that the target sits above the output.
            attributes.update(dir="back", arrowtail="empty", tailport="e")
            attributes.pop("arrowhead")
            attributes["label"] = label(*lines)
            edge = f"{target} -> {quote('target')}"
        else:
            lines.append("one-to-one")
            attributes["label"] = label(*lines)
            attributes["constraint"] = "false"
            source = quote(f"{nudging.source}.{nudging.source_compartment}")
            edge = f"{source} -> {target}"
        self.add(f"    {edge} {_attributes(**attributes)}")
