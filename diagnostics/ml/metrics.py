"""Classification metrics for model evaluation, in plain NumPy (no scikit-learn dependency).

A model version's `metrics` dict, shown in the registry and on result pages, is built by
`evaluate()` from these functions. Undefined values (an AUC with one class only, a sensitivity
with no positives) are NaN here and `None` in `evaluate()`'s dict, because JSON has no NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve for binary labels (1 = positive); ties count one half.

    Computed as the Mann-Whitney U statistic from average ranks, so it is exact with ties.
    """
    y_true, scores = np.asarray(y_true).astype(bool), np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    # Average rank within each run of tied scores, without a Python loop (the bootstrap calls
    # this a thousand times).
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + ends + 1) / 2.0)[inverse]
    u_statistic = ranks[y_true].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u_statistic / (n_pos * n_neg))


def sensitivity_specificity(
    y_true: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> tuple[float, float]:
    """(TP / (TP + FN), TN / (TN + FP)) when `score >= threshold` is called positive."""
    y_true = np.asarray(y_true).astype(bool)
    predicted = np.asarray(scores, dtype=np.float64) >= threshold
    positives, negatives = int(y_true.sum()), int((~y_true).sum())
    true_pos = int((predicted & y_true).sum())
    true_neg = int((~predicted & ~y_true).sum())
    sensitivity = true_pos / positives if positives else math.nan
    specificity = true_neg / negatives if negatives else math.nan
    return sensitivity, specificity


def accuracy(probabilities: np.ndarray, y_true: np.ndarray) -> float:
    """Share of rows whose most probable class is the true class index."""
    predicted = np.argmax(np.asarray(probabilities), axis=1)
    return float(np.mean(predicted == np.asarray(y_true))) if len(predicted) else math.nan


def expected_calibration_error(
    probabilities: np.ndarray, y_true: np.ndarray, n_bins: int = 10
) -> float:
    """Top-label ECE: the confidence-vs-accuracy gap averaged over equal-width confidence bins.

    Each row's confidence is its highest probability; bin i holds confidences in
    (i / n_bins, (i + 1) / n_bins], and each bin's gap is weighted by its share of rows.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if len(probabilities) == 0:
        return math.nan
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == np.asarray(y_true)).astype(np.float64)
    # ceil(conf * n_bins) - 1 puts a confidence of exactly k / n_bins into the lower bin.
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            gap = abs(correct[in_bin].mean() - confidence[in_bin].mean())
            total += in_bin.mean() * gap
    return float(total)


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def evaluate(
    probabilities: np.ndarray,
    y_true: np.ndarray,
    labels: Sequence[str],
    *,
    positive_label: str = "anomaly",
    threshold: float = 0.5,
) -> dict[str, Any]:
    """The metrics dict stored with a model version, for `probabilities` [n, len(labels)]."""
    probabilities, y_true = np.asarray(probabilities), np.asarray(y_true)
    positive = list(labels).index(positive_label)
    is_positive = y_true == positive
    score = probabilities[:, positive] if len(probabilities) else np.zeros(0)
    sensitivity, specificity = sensitivity_specificity(is_positive, score, threshold)
    return {
        "roc_auc": _none_if_nan(roc_auc(is_positive, score)),
        "sensitivity": _none_if_nan(sensitivity),
        "specificity": _none_if_nan(specificity),
        "accuracy": _none_if_nan(accuracy(probabilities, y_true)),
        "expected_calibration_error": _none_if_nan(
            expected_calibration_error(probabilities, y_true)
        ),
        "threshold": float(threshold),
        "positive_label": positive_label,
    }
