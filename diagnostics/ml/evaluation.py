"""Evaluation a clinician can trust, in plain NumPy: confidence intervals, operating points,
calibration, subgroups, and the promotion gate's comparison of two models on the same cases.

Everything here works on arrays a caller already has (probabilities [n, labels], true label
indices, one subgroup value per case); nothing reads a database. `metrics.py` holds the single
numbers (AUC, sensitivity, ECE); this module builds what a model version's evaluation shows from
them. Undefined values are `None` in the dicts (JSON has no NaN).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diagnostics.ml.metrics import expected_calibration_error, roc_auc, sensitivity_specificity

_EPS = 1e-7


def _round(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def bootstrap_auc_interval(
    y_true: np.ndarray, scores: np.ndarray, *, n_resamples: int = 1000, seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:  # fmt: skip
    """Percentile bootstrap interval of the ROC AUC, resampling positives and negatives apart.

    Resampling each class on its own keeps both in every resample, so every AUC is defined;
    (nan, nan) when a class is missing altogether. Seeded: the same cases give the same interval.
    """
    y_true, scores = np.asarray(y_true).astype(bool), np.asarray(scores, dtype=np.float64)
    positives, negatives = scores[y_true], scores[~y_true]
    if len(positives) == 0 or len(negatives) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.ones(len(positives), bool), np.zeros(len(negatives), bool)])
    aucs = np.empty(n_resamples)
    for i in range(n_resamples):
        resampled = np.concatenate(
            [rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))]
        )
        aucs[i] = roc_auc(labels, resampled)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(aucs, [tail, 100.0 - tail])
    return float(low), float(high)


def _operating_points(
    y_true: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds ascending, sensitivity, specificity) of `score >= threshold` at every observed
    score and just above the highest, in one pass (no loop over thresholds)."""
    values, inverse = np.unique(scores, return_inverse=True)
    positives = np.bincount(inverse, weights=y_true.astype(np.float64), minlength=len(values))
    negatives = np.bincount(inverse, weights=(~y_true).astype(np.float64), minlength=len(values))
    # Called positive at values[i]: every case scoring values[i] or more (a reversed cumsum).
    true_pos = np.concatenate([np.cumsum(positives[::-1])[::-1], [0.0]])
    false_pos = np.concatenate([np.cumsum(negatives[::-1])[::-1], [0.0]])
    thresholds = np.concatenate([values, [np.nextafter(values[-1], np.inf)]])
    return thresholds, true_pos / y_true.sum(), 1.0 - false_pos / (~y_true).sum()


def sensitivity_at_specificity(
    y_true: np.ndarray, scores: np.ndarray, specificity: float
) -> tuple[float, float]:
    """(sensitivity, threshold) at the lowest threshold whose specificity reaches `specificity`.

    The threshold is one of the observed scores (or just above the highest), so the operating
    point is one a site can set; NaNs when a class is missing.
    """
    y_true, scores = np.asarray(y_true).astype(bool), np.asarray(scores, dtype=np.float64)
    if y_true.all() or not y_true.any():
        return math.nan, math.nan
    thresholds, sensitivity, spec = _operating_points(y_true, scores)
    first = int(np.flatnonzero(spec >= specificity - 1e-12)[0])  # the last point always qualifies
    return float(sensitivity[first]), float(thresholds[first])


def specificity_at_sensitivity(
    y_true: np.ndarray, scores: np.ndarray, sensitivity: float
) -> tuple[float, float]:
    """(specificity, threshold) at the highest threshold whose sensitivity reaches `sensitivity`."""
    y_true, scores = np.asarray(y_true).astype(bool), np.asarray(scores, dtype=np.float64)
    if y_true.all() or not y_true.any():
        return math.nan, math.nan
    thresholds, sens, specificity = _operating_points(y_true, scores)
    last = int(np.flatnonzero(sens >= sensitivity - 1e-12)[-1])  # the first point always qualifies
    return float(specificity[last]), float(thresholds[last])


def reliability_bins(
    probabilities: np.ndarray, y_true: np.ndarray, n_bins: int = 10
) -> list[dict[str, Any]]:
    """The reliability diagram's data: per equal-width confidence bin (as `metrics`' ECE bins
    them), its bounds, the number of cases, their mean confidence and their accuracy."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1) if len(probabilities) else np.zeros(0)
    correct = (probabilities.argmax(axis=1) == np.asarray(y_true)) if len(probabilities) else []
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        in_bin = bins == b
        count = int(in_bin.sum())
        rows.append({
            "lower": b / n_bins, "upper": (b + 1) / n_bins, "count": count,
            "confidence": _round(confidence[in_bin].mean()) if count else None,
            "accuracy": _round(np.asarray(correct)[in_bin].mean()) if count else None,
        })  # fmt: skip
    return rows


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax(log p / T): the same ranking, confidences softened (T > 1) or sharpened (T < 1)."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def _nll(probabilities: np.ndarray, y_true: np.ndarray) -> float:
    picked = probabilities[np.arange(len(y_true)), y_true]
    return float(-np.mean(np.log(np.clip(picked, _EPS, 1.0))))


def fit_temperature(
    probabilities: np.ndarray, y_true: np.ndarray, *, low: float = 0.25, high: float = 10.0
) -> float:
    """The temperature minimising the negative log-likelihood of `y_true` (Guo et al., 2017).

    A golden-section search over log T: the NLL is convex in 1/T (log-softmax of scaled
    log-probabilities), so unimodal in log T, and the search finds its minimum to far below the
    rounding. 1.0 (no change) when there are no cases. T stays within [low, high]: on a
    separable split the likelihood keeps rising as T falls, and an unbounded fit would make
    every confidence 0 or 1. Fit it on a validation split, never on the cases the evaluation is
    reported on; `choose_temperature` decides whether the fit is worth serving.
    """
    probabilities, y_true = np.asarray(probabilities, dtype=np.float64), np.asarray(y_true)
    if len(y_true) == 0:
        return 1.0
    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)

    def loss(log_t: float) -> float:
        return _nll(apply_temperature(probabilities, math.exp(log_t)), y_true)

    loss_c, loss_d = loss(c), loss(d)
    for _ in range(60):
        if loss_c < loss_d:
            b, d, loss_d = d, c, loss_c
            c = b - ratio * (b - a)
            loss_c = loss(c)
        else:
            a, c, loss_c = c, d, loss_d
            d = a + ratio * (b - a)
            loss_d = loss(d)
    return round(math.exp((a + b) / 2), 6)


# The 95% point of chi-squared with one degree of freedom: the likelihood-ratio test of T = 1.
_LIKELIHOOD_RATIO_95 = 3.841459


@dataclass(frozen=True)
class Calibration:
    """The temperature a model is served with, the fit it came from and why it was (not) taken.

    `decision` is "applied" (the fitted T is served), "no_cases" (nothing to fit on),
    "separable" (every calibration case is classified right, so the likelihood has no minimum:
    it rises as T falls towards 0 and says nothing about how far to sharpen), "not_significant"
    (the fit lowers the calibration cases' NLL no more than chance would, at the 5% level) or
    "raises_ece" (the fit makes the calibration cases' ECE worse); in all but "applied" T is 1.
    The ECE figures are of the calibration cases: before (T = 1), with the fitted T, and after
    (with the served T).
    """

    temperature: float
    fitted_temperature: float
    decision: str
    cases: int
    likelihood_ratio: float | None = None
    ece_before: float | None = None
    ece_fitted: float | None = None

    @property
    def ece_after(self) -> float | None:
        return self.ece_fitted if self.decision == "applied" else self.ece_before

    def as_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature, "fitted_temperature": self.fitted_temperature,
            "decision": self.decision, "cases": self.cases,
            "likelihood_ratio": self.likelihood_ratio, "ece_before": self.ece_before,
            "ece_fitted": self.ece_fitted, "ece_after": self.ece_after,
        }  # fmt: skip


def choose_temperature(
    probabilities: np.ndarray, y_true: np.ndarray, *, n_bins: int = 10
) -> Calibration:
    """Fit a temperature on the calibration cases and serve it only where they show it helps.

    A calibration split of a few dozen cases with a handful of errors pins T down poorly: on an
    already calibrated model the fitted T is noise, and serving it makes held-out confidences
    worse, not better. So the fit is taken only if it lowers the NLL beyond chance (a
    likelihood-ratio test of T = 1 at the 5% level) and lowers the ECE of the same cases;
    otherwise the model is served as trained (T = 1) and the decision says why.
    """
    probabilities, y_true = np.asarray(probabilities, dtype=np.float64), np.asarray(y_true)
    if len(y_true) == 0:
        return Calibration(temperature=1.0, fitted_temperature=1.0, decision="no_cases", cases=0)
    fitted = fit_temperature(probabilities, y_true)
    calibrated = apply_temperature(probabilities, fitted)
    ratio = 2 * len(y_true) * (_nll(probabilities, y_true) - _nll(calibrated, y_true))
    ece_before = expected_calibration_error(probabilities, y_true, n_bins)
    ece_fitted = expected_calibration_error(calibrated, y_true, n_bins)
    if (probabilities.argmax(axis=1) == y_true).all():
        decision = "separable"
    elif ratio < _LIKELIHOOD_RATIO_95:
        decision = "not_significant"
    elif ece_fitted >= ece_before:
        decision = "raises_ece"
    else:
        decision = "applied"
    return Calibration(
        temperature=fitted if decision == "applied" else 1.0, fitted_temperature=fitted,
        decision=decision, cases=len(y_true), likelihood_ratio=_round(ratio),
        ece_before=_round(ece_before), ece_fitted=_round(ece_fitted),
    )  # fmt: skip


def _binary_metrics(y_positive: np.ndarray, score: np.ndarray, threshold: float) -> dict:
    sensitivity, specificity = sensitivity_specificity(y_positive, score, threshold)
    return {
        "n": len(score),
        "n_positive": int(np.asarray(y_positive).sum()),
        "roc_auc": _round(roc_auc(y_positive, score)),
        "sensitivity": _round(sensitivity),
        "specificity": _round(specificity),
    }


def subgroup_metrics(
    y_positive: np.ndarray, score: np.ndarray, subgroups: Mapping[str, Sequence[str]],
    threshold: float,
) -> dict[str, dict[str, dict[str, Any]]]:  # fmt: skip
    """{attribute: {value: {n, n_positive, roc_auc, sensitivity, specificity}}} per subgroup,
    with its size, so a reader sees how few cases a subgroup's figure rests on."""
    y_positive, score = np.asarray(y_positive).astype(bool), np.asarray(score)
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for attribute, values in subgroups.items():
        values = np.asarray([str(v) for v in values])
        result[attribute] = {
            str(value): _binary_metrics(y_positive[values == value], score[values == value],
                                        threshold)
            for value in sorted(set(values))
        }  # fmt: skip
    return result


@dataclass(frozen=True)
class EvaluationSettings:
    """What a site chooses for its evaluation: the operating points and the bootstrap."""

    target_specificity: float = 0.9
    target_sensitivity: float = 0.9
    threshold: float = 0.5
    n_bootstrap: int = 1000
    n_bins: int = 10
    seed: int = 0


def evaluate_model(
    probabilities: np.ndarray, y_true: np.ndarray, labels: Sequence[str], *,
    positive_label: str = "anomaly", subgroups: Mapping[str, Sequence[str]] | None = None,
    settings: EvaluationSettings | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The full evaluation of one model on one set of cases, as stored with a model version."""
    settings = settings or EvaluationSettings()
    probabilities, y_true = np.asarray(probabilities, dtype=np.float64), np.asarray(y_true)
    y_positive = y_true == list(labels).index(positive_label)
    score = probabilities[:, list(labels).index(positive_label)] if len(y_true) else np.zeros(0)
    low, high = bootstrap_auc_interval(
        y_positive, score, n_resamples=settings.n_bootstrap, seed=settings.seed
    )
    sens_at, sens_threshold = sensitivity_at_specificity(
        y_positive, score, settings.target_specificity
    )
    spec_at, spec_threshold = specificity_at_sensitivity(
        y_positive, score, settings.target_sensitivity
    )
    return {
        **_binary_metrics(y_positive, score, settings.threshold),
        "threshold": settings.threshold,
        "positive_label": positive_label,
        "roc_auc_ci95": [_round(low), _round(high)],
        "target_specificity": settings.target_specificity,
        "sensitivity_at_specificity": _round(sens_at),
        "threshold_at_specificity": _round(sens_threshold),
        "target_sensitivity": settings.target_sensitivity,
        "specificity_at_sensitivity": _round(spec_at),
        "threshold_at_sensitivity": _round(spec_threshold),
        "expected_calibration_error": _round(
            expected_calibration_error(probabilities, y_true, settings.n_bins)
        ),
        "reliability": reliability_bins(probabilities, y_true, settings.n_bins),
        "subgroups": subgroup_metrics(y_positive, score, subgroups or {}, settings.threshold),
    }


@dataclass(frozen=True)
class GateSettings:
    """How much worse than production a candidate may be and still be promoted."""

    auc_margin: float = 0.02
    sensitivity_margin: float = 0.05
    subgroup_margin: float = 0.10
    subgroup_min_cases: int = 30


@dataclass(frozen=True)
class GateDecision:
    """Whether a candidate may be promoted, and every reason it may not."""

    passed: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons)}


def _worse_by(candidate: float | None, production: float | None, margin: float) -> bool:
    if production is None:
        return False  # nothing to regress from
    return candidate is None or candidate < production - margin - 1e-12


def gate(
    candidate: Mapping[str, Any], production: Mapping[str, Any], settings: GateSettings
) -> GateDecision:
    """Compare two `evaluate_model` results on the SAME cases: the candidate passes unless it is
    worse than production beyond a margin on AUC or on sensitivity at the chosen specificity, or
    a subgroup with at least `subgroup_min_cases` cases (in both) loses more than the bound."""
    reasons = []
    if _worse_by(candidate.get("roc_auc"), production.get("roc_auc"), settings.auc_margin):
        reasons.append(
            f"AUC {candidate.get('roc_auc')} is below production's {production.get('roc_auc')} "
            f"by more than {settings.auc_margin}"
        )
    key = "sensitivity_at_specificity"
    if _worse_by(candidate.get(key), production.get(key), settings.sensitivity_margin):
        reasons.append(
            f"sensitivity at specificity {candidate.get('target_specificity')} is "
            f"{candidate.get(key)}, below production's {production.get(key)} by more than "
            f"{settings.sensitivity_margin}"
        )
    for attribute, groups in (candidate.get("subgroups") or {}).items():
        for value, mine in groups.items():
            theirs = (production.get("subgroups") or {}).get(attribute, {}).get(value)
            if theirs is None or min(mine["n"], theirs["n"]) < settings.subgroup_min_cases:
                continue
            for metric in ("roc_auc", "sensitivity"):
                if _worse_by(mine.get(metric), theirs.get(metric), settings.subgroup_margin):
                    reasons.append(
                        f"{attribute} {value} ({mine['n']} cases): {metric.replace('_', ' ')} "
                        f"{mine.get(metric)} against production's {theirs.get(metric)}, "
                        f"more than {settings.subgroup_margin} worse"
                    )
    return GateDecision(passed=not reasons, reasons=reasons)
