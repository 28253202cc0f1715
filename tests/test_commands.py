"""mcdlc build, train and verify, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mcdl import data
from mcdl.cli import main

ROOT = Path(__file__).resolve().parent.parent
BARS = ROOT / "specs" / "bars.mcdl"


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def small_bars(path: Path, train: int = 12) -> Path:
    """Write a few bars patterns as a user's .npz dataset."""
    patterns = data.bars(samples_per_class=4)
    validation = data.bars_validation()
    np.savez(
        path,
        x_train=patterns.inputs[:train],
        y_train=patterns.labels[:train],
        x_test=validation.inputs,
        y_test=validation.labels,
    )
    return path


def test_build_twice_gives_identical_trees(tmp_path: Path) -> None:
    assert main(["build", str(BARS), "-o", str(tmp_path / "a")]) == 0
    assert main(["build", str(BARS), "-o", str(tmp_path / "b")]) == 0

    first, second = tree(tmp_path / "a" / "bars"), tree(tmp_path / "b" / "bars")

    assert first == second
    assert "network.json" in first and "process.py" in first
    assert not [name for name in first if name.endswith(".py") and "main" in name]


def test_build_refuses_a_folder_it_did_not_create(tmp_path: Path, capsys) -> None:
    (tmp_path / "mine.txt").write_text("not mcdl's")

    assert main(["build", str(BARS), "-o", str(tmp_path)]) == 1

    assert "was not created by mcdlc build" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_a_failed_build_leaves_the_earlier_package(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["build", str(BARS), "-o", str(out)]) == 0
    before = tree(out / "bars")
    broken = tmp_path / "bars.mcdl"
    broken.write_text(BARS.read_text().replace("Pyramidal[30]", "Pyramidal[0]"))

    assert main(["build", str(broken), "-o", str(out)]) == 1

    assert tree(out / "bars") == before


@pytest.mark.lava
@pytest.mark.timeout(300)
def test_verify_reports_agreement_to_1e_9_for_both_layouts(tmp_path, capsys) -> None:
    figure = tmp_path / "overlay.png"

    status = main(
        [
            "verify",
            str(BARS),
            "--patterns",
            "6",
            "--layered-patterns",
            "2",
            "--plot",
            str(figure),
        ]
    )

    out = capsys.readouterr().out
    assert status == 0
    assert out.count(": ok") == 2
    assert "hidden.pyr.soma" in out and "W_up1" in out
    assert figure.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.lava
@pytest.mark.timeout(300)
def test_train_checkpoints_every_epoch_and_resumes(tmp_path: Path, capsys) -> None:
    dataset = small_bars(tmp_path / "few.npz")
    run = tmp_path / "run"
    args = ["train", str(BARS), "--dataset", str(dataset), "--run-dir", str(run)]

    assert main([*args, "--epochs", "1"]) == 0
    first = json.loads((run / "history.json").read_text())
    assert [e["epoch"] for e in first["epochs"]] == [1]
    assert (run / "weights.npz").exists() and (run / "curves.png").exists()

    assert main([*args, "--epochs", "2", "--resume"]) == 0
    second = json.loads((run / "history.json").read_text())
    assert [e["epoch"] for e in second["epochs"]] == [1, 2]
    assert second["epochs"][0] == first["epochs"][0]
    assert "validation loss" in capsys.readouterr().out


def test_train_on_the_simulator_writes_the_same_files(tmp_path: Path) -> None:
    dataset = small_bars(tmp_path / "few.npz", train=6)
    run = tmp_path / "run"

    status = main(
        [
            "train",
            str(BARS),
            "--engine",
            "sim",
            "--dataset",
            str(dataset),
            "--run-dir",
            str(run),
        ]
    )

    assert status == 0
    history = json.loads((run / "history.json").read_text())
    assert history["engine"] == "sim" and len(history["epochs"]) == 1
    with np.load(run / "weights.npz") as weights:
        assert weights["W_up1"].shape == (30, 9)


def test_resume_refuses_a_run_of_another_spec(tmp_path: Path, capsys) -> None:
    dataset = small_bars(tmp_path / "few.npz", train=3)
    run = tmp_path / "run"
    common = ["--engine", "sim", "--dataset", str(dataset), "--run-dir", str(run)]
    assert main(["train", str(BARS), *common]) == 0
    other = tmp_path / "bars.mcdl"
    other.write_text(BARS.read_text().replace("seed = 1\n", "seed = 2\n", 1))

    assert main(["train", str(other), *common, "--resume"]) == 1

    assert "another version of the spec" in capsys.readouterr().err
