"""The experiment drivers, on runs a few patterns long."""

from __future__ import annotations

import importlib
import json
import re
import shlex

import numpy as np
import pytest

from mcdl.experiments import common, digits, regression, self_predicting


def test_self_predicting_measures_the_approach_to_the_closed_form(tmp_path):
    results = self_predicting.run(patterns=40, every=20, run_dir=tmp_path)

    curve = results["curve"]
    assert [row["patterns"] for row in curve] == [0, 20, 40]
    assert curve[-1]["apical"] < curve[0]["apical"] / 2
    assert curve[-1]["distance W_IP1"] < curve[0]["distance W_IP1"]
    assert (tmp_path / "self_predicting.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["end"] == curve[-1]


def test_regression_trains_the_microcircuit_and_the_shallow_learner(tmp_path):
    results = regression.run(
        engine=common.Engine(steady=True),
        epochs=2,
        every=10,
        run_dir=tmp_path,
        train_size=20,
        validation_size=10,
    )

    assert set(results["learners"]) == {"microcircuit", "shallow"}
    for learner in results["learners"].values():
        assert [row["patterns"] for row in learner["curve"]] == [0, 10, 20, 30, 40]
        assert np.isfinite(learner["final"]["rate error"])
    assert results["zero baseline"] > 0
    assert (tmp_path / "regression.png").exists()


def test_digits_reports_the_microcircuit_and_its_full_dynamics_check(tmp_path):
    results = digits.run(
        engine=common.Engine(steady=True),
        epochs=1,
        run_dir=tmp_path,
        mlp=False,
        limit=30,
    )

    assert results["split"] == {"train": 30, "test": 30, "seed": 0}
    assert 0 <= results["final"]["test accuracy"] <= 1
    full = results["full dynamics evaluation"]
    assert 0 <= full["test accuracy"] <= 1
    with np.load(tmp_path / "weights.npz") as weights:
        assert weights["W_up1"].shape == (100, 64)
    assert (tmp_path / "digits.png").exists()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_mlp_baseline_has_the_microcircuit_s_hidden_sizes():
    from mcdl import data

    train, test = data.digits()
    few = data.Dataset(train.inputs[:300], train.labels[:300], 10)
    results = digits.mlp_baselines((100, 50), few, test, max_iter=60)

    assert set(results) == {"logistic", "relu"}
    assert all(0.5 < r["test accuracy"] <= 1 for r in results.values())


def documented_commands() -> list[str]:
    """The driver commands that ``docs/results.md`` gives for its numbers."""
    text = (common.ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    return re.findall(r"`python -m (mcdl\.experiments\.[a-z_]+[^`]*)`", text)


@pytest.mark.parametrize("command", documented_commands())
def test_every_documented_command_is_understood_by_its_driver(command, monkeypatch):
    name, *argv = shlex.split(command)
    driver = importlib.import_module(name)
    calls = []
    monkeypatch.setattr(driver, "run", lambda *args: calls.append(args))
    monkeypatch.setattr(driver, "summarize", lambda results: None)

    assert driver.main(argv) == 0
    assert len(calls) == 1


def test_a_driver_logs_its_progress_and_summary_unless_quiet(tmp_path, caplog):
    argv = ["--patterns", "10", "--every", "10", "--run-dir", str(tmp_path)]

    assert self_predicting.main(argv) == 0
    assert "10 patterns, distance W_IP1" in caplog.text
    assert "10 patterns in" in caplog.text

    caplog.clear()
    assert self_predicting.main([*argv, "--quiet"]) == 0
    assert caplog.text == ""
    assert (tmp_path / "results.json").exists()


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown engine 'gpu'"):
        common.Engine("gpu")
