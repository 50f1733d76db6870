"""Metric functions against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diagnostics.ml.metrics import (
    accuracy,
    evaluate,
    expected_calibration_error,
    roc_auc,
    sensitivity_specificity,
)


def test_roc_auc_counts_correctly_ordered_positive_negative_pairs():
    # Pairs (pos, neg): (.35,.1) ok, (.35,.4) wrong, (.8,.1) ok, (.8,.4) ok -> 3/4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_roc_auc_counts_a_tie_as_half_a_pair():
    # Pairs: (.5,.5) tie = .5, (.5,.2) ok, (.9,.5) ok, (.9,.2) ok -> 3.5/4.
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(0.875)


def test_roc_auc_is_one_for_a_perfect_ranking_and_zero_for_a_reversed_one():
    assert roc_auc([0, 0, 1], [0.1, 0.2, 0.3]) == 1.0
    assert roc_auc([0, 0, 1], [0.3, 0.2, 0.1]) == 0.0


def test_roc_auc_is_undefined_with_one_class_only():
    assert math.isnan(roc_auc([1, 1, 1], [0.2, 0.5, 0.9]))


def test_sensitivity_and_specificity_at_a_threshold():
    # Called positive (>= .5): [1, 1, 0, 1, 0]; TP 2 of 3 positives, TN 1 of 2 negatives.
    sensitivity, specificity = sensitivity_specificity(
        [1, 1, 1, 0, 0], [0.9, 0.5, 0.2, 0.6, 0.1], threshold=0.5
    )
    assert sensitivity == pytest.approx(2 / 3)
    assert specificity == pytest.approx(0.5)


def test_a_higher_threshold_trades_sensitivity_for_specificity():
    assert sensitivity_specificity([1, 1, 1, 0, 0], [0.9, 0.5, 0.2, 0.6, 0.1], 0.7) == (
        pytest.approx(1 / 3),
        pytest.approx(1.0),
    )


def test_expected_calibration_error_with_one_row_per_bin():
    probabilities = np.array([[0.1, 0.9], [0.8, 0.2], [0.35, 0.65], [0.45, 0.55]])
    y_true = np.array([1, 1, 1, 0])
    # Gaps |accuracy - confidence|: .1, .8, .35, .55, each weighing 1/4.
    assert expected_calibration_error(probabilities, y_true) == pytest.approx(0.45)


def test_expected_calibration_error_averages_within_a_bin():
    probabilities = np.array([[0.38, 0.62], [0.68, 0.32]])
    y_true = np.array([1, 1])
    # Both in (0.6, 0.7]: accuracy 0.5, mean confidence 0.65.
    assert expected_calibration_error(probabilities, y_true) == pytest.approx(0.15)


def test_perfectly_confident_correct_predictions_are_perfectly_calibrated():
    assert expected_calibration_error(np.eye(2)[[0, 1, 1]], np.array([0, 1, 1])) == 0.0


def test_accuracy_compares_the_most_probable_class():
    assert accuracy(np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]), np.array([0, 1, 1])) == (
        pytest.approx(2 / 3)
    )


def test_evaluate_builds_the_metrics_dict_with_none_for_undefined_values():
    metrics = evaluate(
        np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]), ["healthy", "anomaly"], threshold=0.6
    )
    assert metrics["roc_auc"] is None and metrics["sensitivity"] is None
    assert metrics["specificity"] == 0.5
    assert metrics["accuracy"] == 0.5
    assert metrics["threshold"] == 0.6
    assert metrics["positive_label"] == "anomaly"
    assert metrics["expected_calibration_error"] == pytest.approx(0.45)
