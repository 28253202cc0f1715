"""The loihi target from the command line: check, build, train and verify.

Training and verification run a short version of the bars spec (10 ms
patterns) on a dozen patterns, so that each Lava run takes seconds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mcdl import cli, data

ROOT = Path(__file__).resolve().parents[2]
BARS = ROOT / "specs" / "bars.mcdl"


@pytest.fixture
def short_spec(tmp_path: Path) -> Path:
    """bars with 10 ms patterns, beside ``few.npz``: 12 training patterns."""
    text = BARS.read_text(encoding="utf-8")
    for old, new in (
        ("pattern = 100 ms", "pattern = 10 ms"),
        ("settle = 20 ms", "settle = 2 ms"),
        ("readout = 20 ms", "readout = 2 ms"),
    ):
        assert old in text
        text = text.replace(old, new)
    spec = tmp_path / "bars.mcdl"
    spec.write_text(text, encoding="utf-8")
    train, validation = data.bars(4), data.bars_validation()
    np.savez(
        tmp_path / "few.npz",
        x_train=train.inputs[:12],
        y_train=train.labels[:12],
        x_test=validation.inputs,
        y_test=validation.labels,
    )
    return spec


def test_check_says_bars_fits_the_chip(capsys) -> None:
    assert cli.main(["check", "--target", "loihi", str(BARS)]) == cli.EXIT_OK
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("layout", ["fused", "layered"])
def test_build_writes_the_package_and_its_reports(tmp_path, layout, capsys) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        args = ["build", str(BARS), "--target", "loihi", "--layout", layout]
        assert cli.main([*args, "-o", str(out)]) == cli.EXIT_OK
    package = first / "bars"
    quantisation = json.loads((package / "quantisation.json").read_text())
    resources = json.loads((package / "resources.json").read_text())
    assert {row["name"] for row in quantisation} >= {"W_up1", "hidden.pyr.rate"}
    assert resources["total"]["cores"] <= resources["limits"]["cores"]
    assert "| name |" in (package / "quantisation.md").read_text()
    for path in sorted(package.rglob("*")):
        if path.is_file():
            twin = second / "bars" / path.relative_to(package)
            assert path.read_bytes() == twin.read_bytes(), path.name


@pytest.mark.lava
@pytest.mark.timeout(600)
def test_train_runs_the_fused_package_and_checkpoints(short_spec, capsys) -> None:
    run_dir = short_spec.parent / "run"
    args = ["train", str(short_spec), "--target", "loihi", "--run-dir", str(run_dir)]
    args += ["--dataset", str(short_spec.parent / "few.npz")]
    assert cli.main([*args, "--validate-every", "6"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert re.search(r"task epoch 1: validation loss \d", out)
    history = json.loads((run_dir / "history.json").read_text())
    assert history["target"] == "loihi"
    assert [row[0] for row in history["curve"]] == [6, 12]
    with np.load(run_dir / "checkpoint.npz") as checkpoint:
        assert int(checkpoint["patterns"]) == 12
        weights = checkpoint["W_up1"]
    with np.load(run_dir / "weights.npz") as saved:
        np.testing.assert_array_equal(saved["W_up1"], weights)
    # Nothing is left to do; resuming says so by finishing at once.
    assert cli.main([*args, "--resume"]) == cli.EXIT_OK


def test_train_refuses_what_the_loihi_target_cannot_train(short_spec, capsys) -> None:
    args = ["train", str(short_spec), "--target", "loihi", "--engine", "sim"]
    assert cli.main([*args, "--run-dir", str(short_spec.parent / "r")]) == 1
    err = capsys.readouterr().err
    assert "--engine lava --layout fused" in err
    assert "Traceback" not in err


@pytest.mark.lava
@pytest.mark.timeout(600)
def test_verify_finds_lava_equal_to_the_integer_reference(short_spec, capsys) -> None:
    figure = short_spec.parent / "verify.png"
    args = ["verify", str(short_spec), "--target", "loihi", "--plot", str(figure)]
    status = cli.main([*args, "--patterns", "4", "--layered-patterns", "2"])
    out = capsys.readouterr().out
    assert status == cli.EXIT_OK, out
    assert out.count("largest deviation 0.00e+00 (tolerance 0e+00): ok") == 2
    assert "fixed vs float: 4 training patterns" in out
    assert figure.stat().st_size > 0
