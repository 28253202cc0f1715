"""``mcdlc graph``: the DOT text of a network, and its rendering by Graphviz."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mcdl.compiler import compile_file, compile_text
from mcdl.tools.graph import expression, quote, to_dot

from .helpers import ROOT, run

BARS = ROOT / "specs" / "bars.mcdl"
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's 'dot' is not installed (apt-get install graphviz; "
    ".ci/venv.sh installs it where it can)",
)


@pytest.fixture(scope="module")
def bars_dot() -> str:
    return to_dot(compile_file(BARS).network)


def edge(dot: str, source: str, target: str) -> str:
    """The attribute list of the edge ``source -> target`` in ``dot``."""
    match = re.search(rf'^ *"{re.escape(source)}" -> "{re.escape(target)}" \[(.*)\]$',
                      dot, re.M)  # fmt: skip
    assert match, f"no edge {source} -> {target}"
    return match.group(1)


def test_layers_and_populations_are_clusters(bars_dot: str) -> None:
    assert 'subgraph "cluster_layer_hidden" {' in bars_dot
    assert 'subgraph "cluster_layer_output" {' in bars_dot
    assert 'subgraph "cluster_hidden.pyr" {' in bars_dot
    assert 'label="pyr: Pyramidal [30]\\nrate = soft_relu(soma, 1, 1, 0)"' in bars_dot
    assert '"pixels" [' in bars_dot and 'label="pixels\\ninput [9]"' in bars_dot


def test_compartments_are_nodes_and_couplings_edges_with_conductances(
    bars_dot: str,
) -> None:
    assert '"hidden.pyr.soma" [' in bars_dot
    assert 'label="basal\\nprediction 0.526"' in bars_dot
    assert 'label="g = 1"' in edge(bars_dot, "hidden.pyr.basal", "hidden.pyr.soma")
    # The apical dendrite is fed from above, so it is drawn above the soma.
    apical = edge(bars_dot, "hidden.pyr.soma", "hidden.pyr.apical")
    assert "dir=back" in apical and 'label="g = 0.8"' in apical


def test_plastic_projections_are_solid_and_fixed_ones_dashed(bars_dot: str) -> None:
    plastic = edge(bars_dot, "pixels", "hidden.pyr.basal")
    fixed = edge(bars_dot, "output.pyr.soma", "hidden.pyr.apical")

    assert 'label="W_up1\\nlearn dendritic_prediction"' in plastic
    assert "style=solid" in plastic
    assert 'label="W_down1\\nfixed"' in fixed
    assert "style=dashed" in fixed


def test_nudgings_come_from_the_target_or_one_to_one(bars_dot: str) -> None:
    assert '"target" [' in bars_dot
    teaching = edge(bars_dot, "output.pyr.soma", "target")
    follow = edge(bars_dot, "output.pyr.soma", "hidden.inter.soma")

    assert "dir=back" in teaching and 'label="nudge g = 0.8"' in teaching
    assert 'label="nudge g = 0.8\\none-to-one"' in follow
    assert "style=dotted" in follow


def test_the_dot_text_is_deterministic(bars_dot: str) -> None:
    assert to_dot(compile_file(BARS).network) == bars_dot


def test_names_are_quoted_and_escaped() -> None:
    assert quote("plain") == '"plain"'
    assert quote('say "hi"') == '"say \\"hi\\""'
    assert quote("back\\slash") == '"back\\\\slash"'


def test_expressions_are_printed_with_the_parentheses_they_need() -> None:
    text = """\
neuron N {
    compartment soma { leak = 0.1  current = -(soma - 1) * 2 ** -soma }
    rate = logistic(soma) / (1 + soma)
}
network n {
    input x[1]
    layer out { pyr: N[1] }
    project x -> out.pyr.soma as W
    nudge out.pyr.soma from target g = 1
    protocol { pattern = 10 ms }
}
"""
    network = compile_text(text).network
    pyr = network.population("out.pyr")

    assert expression(pyr.rate) == "logistic(soma) / (1 + soma)"
    assert expression(pyr.compartments[0].current) == "-(soma - 1) * 2 ** -soma"


def test_a_conductance_nudging_shows_its_reversal_potentials(tmp_path: Path) -> None:
    text = BARS.read_text().replace(
        "from target g = g_som",
        "from target g = g_som conductance(E_exc = 4.67, E_inh = -1)",
    )
    network = compile_text(text, path=BARS).network

    assert "E_exc 4.67, E_inh -1" in to_dot(network)


@needs_dot
@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_graph_renders_bars(tmp_path: Path, suffix: str) -> None:
    output = tmp_path / f"bars{suffix}"

    assert run(["graph", str(BARS), "-o", str(output)]) == 0
    data = output.read_bytes()
    if suffix == ".svg":
        assert b"<svg" in data and b"W_up1" in data
    else:
        assert data.startswith(b"\x89PNG")


def test_graph_writes_dot_without_graphviz(tmp_path: Path, bars_dot: str) -> None:
    output = tmp_path / "bars.dot"

    assert run(["graph", str(BARS), "-o", str(output)]) == 0
    assert output.read_text() == bars_dot


def test_an_unknown_output_format_is_a_usage_error(tmp_path: Path) -> None:
    assert run(["graph", str(BARS), "-o", str(tmp_path / "bars.txt")]) == 2


def test_a_spec_with_errors_is_reported_and_nothing_written(
    tmp_path: Path, capsys
) -> None:
    spec = tmp_path / "bad.mcdl"
    spec.write_text("network n {}\n")
    output = tmp_path / "bad.dot"

    assert run(["graph", str(spec), "-o", str(output)]) == 1
    assert ": error[E09" in capsys.readouterr().err
    assert not output.exists()
