"""Training: a tiny run learns the SYNTHETIC task, with honest held-out metrics."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics.ml.train import stratified_split, train, train_synthetic_baseline


def test_tiny_training_run_learns_the_synthetic_task(tiny_training):
    assert tiny_training.metrics["roc_auc"] > 0.9
    assert tiny_training.metrics["accuracy"] > 0.75


def test_metrics_are_computed_on_a_stratified_held_out_fifth(tiny_training):
    metrics = tiny_training.metrics
    assert (metrics["n_train"], metrics["n_test"]) == (256, 64)
    assert metrics["class_counts"] == {
        "train": {"healthy": 128, "anomaly": 128},
        "test": {"healthy": 32, "anomaly": 32},
    }
    assert metrics["threshold"] == 0.5
    for key in ("sensitivity", "specificity", "accuracy", "roc_auc"):
        assert 0.0 <= metrics[key] <= 1.0
    assert 0.0 <= metrics["expected_calibration_error"] <= 0.5


def test_progress_is_reported_after_every_epoch(tiny_training, progress_calls):
    assert [(epoch, total) for epoch, total, _ in progress_calls] == [(1, 3), (2, 3), (3, 3)]
    assert {"loss", "val_loss"} <= set(progress_calls[-1][2])
    assert tiny_training.history["loss"] == [logs["loss"] for _, _, logs in progress_calls]


def test_stratified_split_is_seeded_and_keeps_label_proportions():
    y = np.array([0] * 30 + [1] * 10)
    train_a, test_a = stratified_split(y, 0.2, seed=1)
    _, test_b = stratified_split(y, 0.2, seed=1)
    _, test_c = stratified_split(y, 0.2, seed=2)
    np.testing.assert_array_equal(test_a, test_b)
    assert not np.array_equal(test_a, test_c)
    assert sorted(np.concatenate([train_a, test_a])) == list(range(40))
    assert np.bincount(y[test_a]).tolist() == [6, 2]


def test_split_by_groups_keeps_each_subject_on_one_side():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1])
    groups = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e", "f", "f"]
    train_idx, test_idx = stratified_split(y, 0.34, seed=0, groups=groups)
    train_groups = {groups[i] for i in train_idx}
    test_groups = {groups[i] for i in test_idx}
    assert train_groups.isdisjoint(test_groups)
    assert set(y[test_idx]) == {0, 1}


def test_examples_with_a_label_outside_the_label_set_are_rejected():
    clip = np.zeros(16000, dtype=np.float32)
    with pytest.raises(ValueError, match="covid"):
        train([(clip, "healthy"), (clip, "covid")], epochs=1)


def test_synthetic_baseline_says_it_was_trained_on_synthetic_data():
    result = train_synthetic_baseline(n_examples=12, epochs=1, seed=3)
    metadata = result.to_metadata(name="baseline", version="test")
    assert result.trained_on == metadata.trained_on == "synthetic"
    assert metadata.labels == ("healthy", "anomaly")
    assert result.metrics["n_train"] + result.metrics["n_test"] == 12
