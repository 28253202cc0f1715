"""The datasets of mcdl.data: generated, bundled and loaded from files."""

from __future__ import annotations

import numpy as np
import pytest

from mcdl import data


def test_bars_are_three_by_three_images_of_rows_columns_and_diagonals():
    rows, columns, diagonals = data.bar_patterns()

    assert [p.reshape(3, 3).tolist() for p in rows[:1]] == [
        [[1, 1, 1], [0, 0, 0], [0, 0, 0]]
    ]
    assert columns[2].reshape(3, 3)[:, 2].tolist() == [1, 1, 1]
    assert diagonals[0].reshape(3, 3).tolist() == np.eye(3).tolist()
    assert diagonals[1].reshape(3, 3).tolist() == np.fliplr(np.eye(3)).tolist()
    assert all(
        p.sum() == 3 for patterns in (rows, columns, diagonals) for p in patterns
    )


def test_bars_interleave_the_classes_and_cycle_through_their_patterns():
    inputs, labels, classes = data.bars(samples_per_class=4, noise=0.0)

    assert classes == 3 and inputs.shape == (12, 9) and labels.dtype.kind == "i"
    assert labels.tolist() == [0, 1, 2] * 4
    rows, _, diagonals = data.bar_patterns()
    np.testing.assert_array_equal(inputs[0], rows[0])
    np.testing.assert_array_equal(inputs[3], rows[1])
    np.testing.assert_array_equal(inputs[9], rows[0])
    np.testing.assert_array_equal(inputs[8], diagonals[0])
    np.testing.assert_array_equal(inputs[11], diagonals[1])


def test_bars_add_seeded_uniform_noise_below_the_given_bound():
    noisy = data.bars(samples_per_class=100, noise=0.01, seed=3)
    clean = data.bars(samples_per_class=100, noise=0.0)

    added = noisy.inputs - clean.inputs
    assert added.min() >= 0.0 and added.max() < 0.01
    np.testing.assert_array_equal(noisy.inputs, data.bars(100, 0.01, seed=3).inputs)
    assert not np.array_equal(noisy.inputs, data.bars(100, 0.01, seed=4).inputs)


def test_bars_shuffle_only_when_asked():
    plain = data.bars(samples_per_class=10)
    shuffled = data.bars(samples_per_class=10, shuffle=True)

    assert plain.labels.tolist() == [0, 1, 2] * 10
    assert sorted(shuffled.labels.tolist()) == sorted(plain.labels.tolist())
    assert shuffled.labels.tolist() != plain.labels.tolist()


def test_the_bars_validation_set_is_the_eight_clean_bars():
    inputs, labels, classes = data.bars_validation()

    assert inputs.shape == (8, 9) and classes == 3
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    assert set(np.unique(inputs)) == {0.0, 1.0}


def test_digits_are_scaled_to_the_unit_interval_and_split_by_a_seed():
    train, test = data.digits(seed=0, test_fraction=0.25)

    assert train.inputs.shape[1] == 64 and train.classes == 10
    assert len(train.inputs) + len(test.inputs) == 1797
    assert len(test.inputs) == round(0.25 * 1797)
    assert train.inputs.min() == 0.0 and train.inputs.max() == 1.0
    again, _ = data.digits(seed=0, test_fraction=0.25)
    np.testing.assert_array_equal(again.labels, train.labels)


def test_load_npz_reads_the_four_arrays(tmp_path):
    path = tmp_path / "tiny.npz"
    x = np.arange(12.0).reshape(4, 3)
    np.savez(path, x_train=x, y_train=[0, 1, 2, 1], x_test=x[:2], y_test=[1, 0])

    train, test = data.load_npz(path)

    np.testing.assert_array_equal(train.inputs, x)
    assert train.labels.tolist() == [0, 1, 2, 1] and test.labels.tolist() == [1, 0]
    assert train.classes == test.classes == 3


def test_load_npz_names_the_missing_arrays(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=np.zeros((2, 3)), y_train=[0, 1])

    with pytest.raises(data.DataError, match="lacks x_test, y_test"):
        data.load_npz(path)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.zeros(3)}, "x_train must be a 2-D numeric array"),
        ({"y_train": [0, 1, 2]}, r"y_train must have shape \(2,\)"),
        ({"y_train": [0.5, 1.0]}, "whole-number class labels"),
        ({"y_train": [-1, 1]}, "non-negative"),
        ({"x_test": np.zeros((1, 4))}, "x_train has 3 columns, x_test 4"),
    ],
)
def test_load_npz_rejects_arrays_of_the_wrong_shape(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    good = {
        "x_train": np.zeros((2, 3)),
        "y_train": [0, 1],
        "x_test": np.zeros((1, 3)),
        "y_test": [0],
    }
    np.savez(path, **{**good, **arrays})

    with pytest.raises(data.DataError, match=message):
        data.load_npz(path)


def test_load_npz_reports_a_missing_file(tmp_path):
    with pytest.raises(data.DataError, match="cannot read"):
        data.load_npz(tmp_path / "absent.npz")


def test_load_npz_refuses_a_single_array(tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.zeros(3))

    with pytest.raises(data.DataError, match="not a .npz archive"):
        data.load_npz(path)


def test_target_potentials_are_high_for_the_class_and_low_elsewhere():
    targets = data.target_potentials(np.array([2, 0]), 3, high=1.0, low=0.1)

    np.testing.assert_array_equal(targets, [[0.1, 0.1, 1.0], [1.0, 0.1, 0.1]])


def test_target_potentials_refuse_a_label_out_of_range():
    with pytest.raises(data.DataError, match="classes 0..2"):
        data.target_potentials(np.array([3]), 3)
