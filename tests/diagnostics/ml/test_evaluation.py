"""Evaluation: the AUC's bootstrap interval, operating points, calibration by temperature,
subgroups with their sizes, and the promotion gate's comparison (plain NumPy, no Django)."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics.ml.evaluation import (
    GateSettings,
    apply_temperature,
    bootstrap_auc_interval,
    choose_temperature,
    evaluate_model,
    fit_temperature,
    gate,
    reliability_bins,
    sensitivity_at_specificity,
    specificity_at_sensitivity,
)
from diagnostics.ml.metrics import expected_calibration_error, roc_auc

LABELS = ("healthy", "anomaly")


def noisy_scores(n: int, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, 1 / (1 + np.exp(-(rng.normal(0, 1, n) + separation * (2 * y - 1))))


def as_probabilities(score: np.ndarray) -> np.ndarray:
    return np.stack([1 - score, score], axis=1)


def test_bootstrap_interval_holds_the_auc_is_seeded_and_narrows_with_more_cases():
    y, score = noisy_scores(200, 1.0, seed=1)
    low, high = bootstrap_auc_interval(y, score, n_resamples=500, seed=4)

    assert low < roc_auc(y, score) < high
    assert (low, high) == bootstrap_auc_interval(y, score, n_resamples=500, seed=4)
    y_big, score_big = noisy_scores(3000, 1.0, seed=1)
    low_big, high_big = bootstrap_auc_interval(y_big, score_big, n_resamples=500, seed=4)
    assert high_big - low_big < (high - low) / 2


def test_operating_points_at_the_chosen_specificity_and_sensitivity():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    score = np.array([0.1, 0.2, 0.3, 0.7, 0.4, 0.6, 0.8, 0.9])

    # Specificity 0.75 needs three of four negatives below the threshold: 0.4 (sens 1.0).
    assert sensitivity_at_specificity(y, score, 0.75) == (1.0, 0.4)
    # Specificity 1.0 needs the threshold above 0.7: 0.8 catches two of four positives.
    assert sensitivity_at_specificity(y, score, 1.0) == (0.5, 0.8)
    # Sensitivity 1.0 is reached at 0.4 at the highest, where one negative is above: spec 0.75.
    assert specificity_at_sensitivity(y, score, 1.0) == (0.75, 0.4)


def test_temperature_scaling_lowers_the_ece_of_an_overconfident_model():
    y, score = noisy_scores(2000, 0.8, seed=2)
    overconfident = as_probabilities(1 / (1 + np.exp(-4 * np.log(score / (1 - score)))))
    fit_half, report_half = slice(0, 1000), slice(1000, None)

    temperature = fit_temperature(overconfident[fit_half], y[fit_half])
    calibrated = apply_temperature(overconfident[report_half], temperature)

    assert temperature > 1.5  # an overconfident model is softened
    chosen = choose_temperature(overconfident[fit_half], y[fit_half])
    assert (chosen.decision, chosen.temperature) == ("applied", temperature)
    assert chosen.ece_after < chosen.ece_before
    before = expected_calibration_error(overconfident[report_half], y[report_half])
    after = expected_calibration_error(calibrated, y[report_half])
    assert after < before / 2
    assert roc_auc(y[report_half], calibrated[:, 1]) == pytest.approx(
        roc_auc(y[report_half], overconfident[report_half, 1])
    )  # the ranking, so the AUC, is unchanged


def test_a_calibrated_model_is_served_as_trained_when_a_small_split_shows_no_gain():
    # Scores calibrated by construction (separation 0.5: the score's logit is the true log-odds),
    # 30 calibration splits of 64 cases, as a small training run has, and 20,000 held out.
    y_out, out = noisy_scores(20000, 0.5, seed=99)
    before = expected_calibration_error(as_probabilities(out), y_out)
    afters = []
    for seed in range(30):
        y, score = noisy_scores(64, 0.5, seed=seed)
        chosen = choose_temperature(as_probabilities(score), y)
        calibrated = apply_temperature(as_probabilities(out), chosen.temperature)
        afters.append(expected_calibration_error(calibrated, y_out))

    print(f"held-out ECE before {before:.4f}, after (mean of 30 fits) {np.mean(afters):.4f}")
    assert np.mean(afters) <= before + 0.005
    assert sum(after > before for after in afters) <= 3


def test_an_underconfident_model_is_sharpened_and_its_held_out_ece_falls():
    y, score = noisy_scores(64, 1.5, seed=7)  # the logit understates the log-odds threefold
    y_out, out = noisy_scores(20000, 1.5, seed=99)

    chosen = choose_temperature(as_probabilities(score), y)

    assert chosen.decision == "applied" and chosen.temperature < 0.6
    before = expected_calibration_error(as_probabilities(out), y_out)
    after = expected_calibration_error(
        apply_temperature(as_probabilities(out), chosen.temperature), y_out
    )
    assert after < before / 3


def test_no_temperature_is_fitted_on_no_cases_or_on_cases_all_classified_right():
    assert choose_temperature(np.zeros((0, 2)), np.zeros(0, int)).decision == "no_cases"
    separable = choose_temperature(as_probabilities(np.array([0.2, 0.4, 0.7, 0.9])),
                                   np.array([0, 0, 1, 1]))  # fmt: skip

    assert (separable.decision, separable.temperature) == ("separable", 1.0)
    assert separable.fitted_temperature == 0.25  # the likelihood's "minimum" is the bound
    assert separable.ece_after == separable.ece_before


def test_reliability_bins_count_every_case_once():
    y, score = noisy_scores(300, 1.0, seed=3)
    bins = reliability_bins(as_probabilities(score), y)

    assert len(bins) == 10 and sum(b["count"] for b in bins) == 300
    assert all(b["count"] == 0 for b in bins[:4])  # top-label confidence is at least 0.5


def test_evaluation_reports_each_subgroup_with_its_size():
    y, score = noisy_scores(100, 1.0, seed=5)
    sex = ["female" if i % 4 else "male" for i in range(100)]

    result = evaluate_model(as_probabilities(score), y, LABELS, subgroups={"sex": sex})

    assert {k: v["n"] for k, v in result["subgroups"]["sex"].items()} == {"female": 75, "male": 25}
    assert result["n"] == 100 and len(result["roc_auc_ci95"]) == 2
    assert result["sensitivity_at_specificity"] is not None


def evaluation_of(separation: float, seed: int = 6) -> dict:
    y, score = noisy_scores(400, separation, seed=seed)
    sex = ["female" if i % 2 else "male" for i in range(400)]
    return evaluate_model(as_probabilities(score), y, LABELS, subgroups={"sex": sex})


def test_gate_refuses_a_worse_candidate_and_says_why():
    decision = gate(evaluation_of(0.2), evaluation_of(1.5), GateSettings())

    assert not decision.passed
    assert any(reason.startswith("AUC") for reason in decision.reasons)
    assert any("sex" in reason for reason in decision.reasons)


def test_gate_accepts_a_better_or_equal_candidate():
    assert gate(evaluation_of(1.5), evaluation_of(0.5), GateSettings()).passed
    assert gate(evaluation_of(1.0), evaluation_of(1.0), GateSettings()).passed


def test_gate_ignores_subgroups_too_small_to_judge():
    candidate, production = evaluation_of(1.0), evaluation_of(1.0)
    candidate["subgroups"] = {"site": {"tiny": {"n": 5, "roc_auc": 0.1, "sensitivity": 0.0}}}
    production["subgroups"] = {"site": {"tiny": {"n": 5, "roc_auc": 0.9, "sensitivity": 0.9}}}

    assert gate(candidate, production, GateSettings(subgroup_min_cases=30)).passed
    assert not gate(candidate, production, GateSettings(subgroup_min_cases=5)).passed
