"""Rendering a package: deterministic, golden, formatted, and checked."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mcdl import ir
from mcdl.codegen.cpu import CodegenError, render_package, write_package
from mcdl.init import initial_weights

from .conftest import binary, call, num, ref, variant

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
LAYOUTS = ("fused", "layered")
TEXT_FILES = (
    "README.md",
    "__init__.py",
    "models.py",
    "network.py",
    "process.py",
    "supervision.py",
)
SHARED = ("supervision.py",)
"""Files that every layout renders alike, kept once in ``golden/``."""


def render(network: ir.Network, layout: str = "fused") -> dict[str, bytes]:
    return render_package(network, initial_weights(network), layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rendering_twice_gives_the_same_bytes(bars: ir.Network, layout: str) -> None:
    again = ir.Network.model_validate_json(bars.model_dump_json())
    assert render(bars, layout) == render(again, layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_package_holds_code_ir_weights_and_readme(
    bars: ir.Network, layout: str
) -> None:
    files = render(bars, layout)
    weights = {f"weights/{p.name}.npy" for p in bars.projections}
    assert set(files) == {*TEXT_FILES, "network.json", *weights}
    assert list(files) == sorted(files)
    assert ir.Network.model_validate_json(files["network.json"]) == bars
    readme = files["README.md"].decode()
    assert bars.source.file in readme and bars.source.sha256 in readme
    for name, array in initial_weights(bars).items():
        buffer = io.BytesIO()
        np.save(buffer, array)
        assert files[f"weights/{name}.npy"] == buffer.getvalue()


def test_absolute_paths_do_not_reach_the_package(bars: ir.Network) -> None:
    data = json.loads(bars.model_dump_json())
    data["span"]["path"] = "/home/someone/specs/bars.mcdl"
    files = render(ir.Network.model_validate(data))
    for content in files.values():
        assert b"/home/someone" not in content
        assert str(ROOT).encode() not in content


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_code_matches_the_golden_files(
    bars: ir.Network, layout: str, update_golden: bool
) -> None:
    folder = GOLDEN / f"bars_{layout}"
    golden = {
        name: (GOLDEN if name in SHARED else folder) / name for name in TEXT_FILES
    }
    files = render(bars, layout)
    if update_golden:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, path in golden.items():
            path.write_bytes(files[name])
        return
    for name, path in golden.items():
        assert files[name].decode() == path.read_text(), (
            f"{path.relative_to(GOLDEN)} differs from the golden file; if the "
            "change is intended, run `make golden` and read the diff"
        )


def _ruff(*args: str) -> subprocess.CompletedProcess:
    pytest.importorskip("ruff")
    config = str(ROOT / "pyproject.toml")
    command = [sys.executable, "-m", "ruff", *args, "--config", config, "--no-cache"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _long_names(data: dict) -> None:
    """Give the bars network names much longer than anyone should use."""
    text = json.dumps(data)
    for old, new in [
        ("hidden.pyr", "hidden_layer_number_one.pyramidal_population"),
        ("hidden.inter", "hidden_layer_number_one.interneuron_population"),
        ("output.pyr", "output_layer_of_network.pyramidal_population"),
        ('"layer": "hidden"', '"layer": "hidden_layer_number_one"'),
        ('"layer": "output"', '"layer": "output_layer_of_network"'),
        ('"soma"', '"somatic_compartment"'),
        ('"basal"', '"basal_dendrite_compartment"'),
    ]:
        text = text.replace(old, new)
    for name in ("W_up1", "W_up2", "W_down1", "W_IP1", "W_PI1"):
        text = text.replace(f'"{name}"', f'"{name}_with_a_much_longer_name"')
    data.clear()
    data.update(json.loads(text))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("names", ["bars", "long names"])
def test_the_rendered_code_passes_ruff(
    tmp_path: Path, bars: ir.Network, layout: str, names: str
) -> None:
    network = bars if names == "bars" else variant(_long_names)
    package = write_package(render(network, layout), tmp_path / "package")
    for args in (["format", "--check", "--diff"], ["check"]):
        result = _ruff(*args, str(package))
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_feature_renders_formatted_code(tmp_path: Path) -> None:
    """Exponential updates, conductance nudging, currents, one-to-one weights."""

    def change(data: dict) -> None:
        data["integration"] = "exponential"
        for nudging in data["nudgings"]:
            nudging.update(form="conductance", e_exc=1.5, e_inh=-0.5)
        data["protocol"]["lowpass"] = 0.0
        data["projections"].append(one_to_one(data))

    for network in (variant(change), variant(with_current)):
        for layout in LAYOUTS:
            package = write_package(render(network, layout), tmp_path / layout)
            for args in (["format", "--check", "--diff"], ["check"]):
                result = _ruff(*args, str(package))
                assert result.returncode == 0, result.stdout + result.stderr


def one_to_one(data: dict) -> dict:
    """A plastic one-to-one projection from the output's somas to the interneurons."""
    update = binary(
        data,
        "-",
        binary(
            data,
            "*",
            num(data, 0.01),
            binary(data, "*", ref(data, "pre", "rate"), ref(data, "post", "rate")),
        ),
        binary(data, "*", num(data, 0.001), ref(data, "w")),
    )
    return {
        "span": data["span"],
        "name": "W_copy",
        "source": "output.pyr",
        "source_var": "soma",
        "target": "hidden.inter",
        "compartment": "soma",
        "one_to_one": True,
        "init": {"kind": "constant", "span": data["span"], "value": 0.3},
        "plasticity": {
            "span": data["span"],
            "rule": "decay",
            "update": update,
            "lowpass": None,
        },
    }


def with_current(data: dict) -> None:
    """Rests, capacitances, a declared current, a second noisy compartment."""
    pyr = next(p for p in data["populations"] if p["name"] == "hidden.pyr")
    soma = pyr["compartments"][0]
    current = binary(
        data, "*", num(data, -0.05), call(data, "tanh", ref(data, "basal"))
    )
    soma.update(rest=0.2, capacitance=2.0, current=current)
    pyr["compartments"].append(
        {
            "span": data["span"],
            "name": "shaft",
            "kind": "integrating",
            "leak": 0.3,
            "rest": -0.1,
            "noise": 0.05,
        }
    )
    pyr["couplings"].append(
        {"span": data["span"], "source": "soma", "target": "shaft", "conductance": 0.5}
    )
    shaft = binary(data, "*", num(data, 0.1), ref(data, "shaft"))
    pyr["rate"] = call(data, "logistic", binary(data, "+", ref(data, "soma"), shaft))
    data["projections"].append(one_to_one(data))
    data["protocol"]["phases"][0]["learn"].append("W_copy")


def test_an_unknown_layout_is_an_error(bars: ir.Network) -> None:
    with pytest.raises(CodegenError, match="unknown layout 'tiled'"):
        render(bars, "tiled")


def test_weights_of_the_wrong_shape_are_an_error(bars: ir.Network) -> None:
    weights = initial_weights(bars)
    weights["W_up1"] = weights["W_up1"].T
    with pytest.raises(CodegenError, match=r"W_up1 have shape \(9, 30\)"):
        render_package(bars, weights)
    del weights["W_up1"]
    with pytest.raises(CodegenError, match="no initial weights for projection W_up1"):
        render_package(bars, weights)


def test_a_rule_that_reads_an_unknown_name_is_an_error() -> None:
    def change(data: dict) -> None:
        data["projections"][0]["plasticity"]["update"] = ref(data, "post", "tuft")

    with pytest.raises(CodegenError, match="'post.tuft'"):
        render(variant(change))


def test_a_call_that_is_not_a_builtin_is_an_error() -> None:
    def change(data: dict) -> None:
        pyr = next(p for p in data["populations"] if p["name"] == "hidden.pyr")
        pyr["rate"] = call(data, "sigmoid", ref(data, "soma"))

    with pytest.raises(CodegenError, match="'sigmoid'"):
        render(variant(change))


def test_an_output_without_a_teacher_is_an_error() -> None:
    def change(data: dict) -> None:
        data["nudgings"] = [n for n in data["nudgings"] if n["source"] is not None]

    with pytest.raises(CodegenError, match="read-out compartment"):
        render(variant(change))


def test_write_package_replaces_the_folder_whole(
    tmp_path: Path, bars: ir.Network
) -> None:
    target = tmp_path / "bars"
    target.mkdir()
    (target / "stale.py").write_text("x = 1\n")
    write_package(render(bars), target)
    assert not (target / "stale.py").exists()
    assert (target / "network.py").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["bars"]
