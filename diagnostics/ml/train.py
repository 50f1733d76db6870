"""Training: from labelled 16 kHz clips to a fitted model and its held-out metrics.

The examples are (samples, label) pairs: the SYNTHETIC set today (`train_synthetic_baseline`),
reviewed diagnostics and imported public data sets (`datasets.py`) later. Features come from the
same `features.fit_clip` and `features.log_mel` that inference uses. A seeded, stratified split
holds out `validation_fraction` of the examples (of the subjects, when `groups` is given, so one
person's recordings never sit on both sides); the metrics are computed on that held-out part only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import keras
import numpy as np

from diagnostics.ml import synth
from diagnostics.ml.evaluation import (
    EvaluationSettings,
    apply_temperature,
    choose_temperature,
    evaluate_model,
)
from diagnostics.ml.features import FeatureConfig, fit_clips, log_mel_numpy
from diagnostics.ml.metrics import evaluate, expected_calibration_error
from diagnostics.ml.model import NORMALIZATION_LAYER, ModelMetadata, build_model

Progress = Callable[[int, int, dict[str, float]], None]


class TrainingCancelled(Exception):
    """`should_stop` answered True: training stopped between batches, nothing was kept."""


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """A fitted Keras model, its held-out metrics, the per-epoch history, and how to serve it."""

    model: keras.Model
    metrics: dict[str, Any]
    history: dict[str, list[float]]
    labels: tuple[str, ...]
    config: FeatureConfig
    clip_seconds: float
    trained_on: str = "unspecified"
    temperature: float = 1.0
    # The full evaluation (`evaluation.evaluate_model`) of the held-out part, calibrated.
    evaluation: dict[str, Any] = field(default_factory=dict)
    # Example indices of each part: "train", "calibration" (may be empty) and "test".
    split: dict[str, list[int]] = field(default_factory=dict)

    def to_metadata(
        self, *, name: str, version: str, trained_on: str | None = None
    ) -> ModelMetadata:
        """Metadata for `model.save_artifact`; `trained_on` defaults to this result's."""
        return ModelMetadata(
            name=name,
            version=version,
            labels=self.labels,
            clip_seconds=self.clip_seconds,
            features=self.config,
            metrics=self.metrics,
            trained_on=trained_on or self.trained_on,
            temperature=self.temperature,
        )


def stratified_split(
    y: np.ndarray, fraction: float, seed: int, groups: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices): `fraction` of each label's groups held out, seeded.

    Without `groups` every example is its own group. A group takes the label of its first
    example. Each label with at least two groups keeps at least one on each side.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    group_ids = np.asarray(groups if groups is not None else np.arange(len(y)).astype(str))
    unique, first = np.unique(group_ids, return_index=True)
    rng = np.random.default_rng(seed)
    test_groups: list[str] = []
    for label in np.unique(y):
        members = rng.permutation(unique[y[first] == label])
        n_test = round(fraction * len(members))
        if fraction > 0 and len(members) >= 2:
            n_test = min(max(n_test, 1), len(members) - 1)
        test_groups.extend(members[:n_test])
    is_test = np.isin(group_ids, test_groups)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def featurize(
    waveforms: Sequence[np.ndarray], config: FeatureConfig, clip_samples: int, *, chunk: int = 64
) -> np.ndarray:
    """[n, frames, n_mels] log-mel features, fitting clips chunk by chunk to bound memory."""
    parts = [
        log_mel_numpy(fit_clips(waveforms[i : i + chunk], clip_samples), config)
        for i in range(0, len(waveforms), chunk)
    ]
    return np.concatenate(parts)


class _ProgressCallback(keras.callbacks.Callback):
    def __init__(
        self, progress: Progress | None, epochs: int, should_stop: Callable[[], bool] | None
    ) -> None:
        super().__init__()
        self._progress, self._epochs, self._should_stop = progress, epochs, should_stop
        self.cancelled = False

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # Keras ends the epoch's loop after the batch that sets stop_training.
        if self._should_stop is not None and self._should_stop():
            self.cancelled = self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._progress is not None and not self.cancelled:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            self._progress(epoch + 1, self._epochs, logs)


def _class_weights(y_train: np.ndarray, labels: Sequence[str]) -> dict[int, float]:
    # Real data sets are imbalanced (COUGHVID is mostly healthy); weight classes equally.
    counts = np.bincount(y_train, minlength=len(labels))
    missing = [labels[i] for i, count in enumerate(counts) if count == 0]
    if missing:
        raise ValueError(f"no training examples for labels {missing}")
    return {i: len(y_train) / (len(labels) * int(count)) for i, count in enumerate(counts)}


def _fit(
    model: keras.Model,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    labels: Sequence[str],
    epochs: int,
    batch_size: int,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, list[float]]:
    x_train, y_train, x_test, y_test = data
    # The held-out split is passed as validation data for the val_* curves only: nothing is
    # chosen on it (no early stopping), so the final metrics stay an honest held-out estimate.
    model.get_layer(NORMALIZATION_LAYER).adapt(x_train)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    fitted = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(x_test, y_test) if len(x_test) else None,
        class_weight=_class_weights(y_train, labels),
        callbacks=[callback := _ProgressCallback(progress, epochs, should_stop)],
        verbose=0,
    )
    if callback.cancelled:
        raise TrainingCancelled("training was cancelled")
    return {k: [float(v) for v in values] for k, values in fitted.history.items()}


def train(
    examples: Sequence[tuple[np.ndarray, str]],
    *,
    labels: Sequence[str] = ("healthy", "anomaly"),
    epochs: int = 15,
    batch_size: int = 32,
    seed: int = 0,
    clip_seconds: float = 5.0,
    validation_fraction: float = 0.2,
    progress: Progress | None = None,
    threshold: float = 0.5,
    positive_label: str = "anomaly",
    config: FeatureConfig | None = None,
    groups: Sequence[str] | None = None,
    calibration_fraction: float = 0.0,
    subgroups: Mapping[str, Sequence[str]] | None = None,
    evaluation: EvaluationSettings | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainingResult:
    """Train a fresh model on (mono float32 samples at `config.sample_rate`, label) pairs.

    `progress(epoch, epochs, logs)` is called after every epoch; `should_stop()` between batches
    (True raises `TrainingCancelled`). Metrics are on the held-out split: roc_auc, sensitivity
    and specificity of P(positive_label) >= threshold, accuracy, expected_calibration_error (10
    bins), threshold, n_train, n_test and class_counts. With `calibration_fraction`, that share of
    the training subjects is kept out of fitting to fit a temperature, served only where those
    subjects show it helps (`evaluation.choose_temperature`; `calibration` holds the fit, the
    decision and their ECE before and after); the held-out metrics are of the served model, with
    the held-out ECE before calibration beside.
    `subgroups` (one value per example and attribute) are evaluated on the held-out split.
    """
    config = config or FeatureConfig()
    labels = tuple(labels)
    unknown = {label for _, label in examples} - set(labels)
    if unknown:
        raise ValueError(f"examples carry labels {sorted(unknown)} not in {labels}")
    keras.utils.set_random_seed(seed)
    y = np.array([labels.index(label) for _, label in examples], dtype=np.int64)
    parts = _three_way_split(y, validation_fraction, calibration_fraction, seed, groups)
    features = featurize([w for w, _ in examples], config, round(clip_seconds * config.sample_rate))
    train_idx, calibration_idx, test_idx = parts["train"], parts["calibration"], parts["test"]
    data = (features[train_idx], y[train_idx], features[test_idx], y[test_idx])
    model = build_model(labels, config, clip_seconds)
    history = _fit(
        model, data, labels=labels, epochs=epochs, batch_size=batch_size, progress=progress,
        should_stop=should_stop,
    )  # fmt: skip
    calibration = choose_temperature(
        _predict(model, features[calibration_idx], labels), y[calibration_idx]
    )
    temperature = calibration.temperature
    raw = _predict(model, data[2], labels)
    probabilities = apply_temperature(raw, temperature) if temperature != 1.0 else raw
    metrics = evaluate(
        probabilities, data[3], labels, positive_label=positive_label, threshold=threshold
    )
    metrics |= {
        "n_train": len(train_idx),
        "n_calibration": len(calibration_idx),
        "n_test": len(test_idx),
        "class_counts": {
            "train": _counts(y[train_idx], labels),
            "test": _counts(y[test_idx], labels),
        },
        "epochs": epochs,
        "temperature": temperature,
        "calibration": calibration.as_dict(),
        "ece_before_calibration": _ece(raw, data[3]),
    }
    report = evaluate_model(
        probabilities, data[3], labels, positive_label=positive_label,
        subgroups={k: [v[i] for i in test_idx] for k, v in (subgroups or {}).items()},
        settings=replace(evaluation or EvaluationSettings(), threshold=threshold, seed=seed),
    )  # fmt: skip
    split = {name: [int(i) for i in idx] for name, idx in parts.items()}
    return TrainingResult(
        model, metrics, history, labels, config, clip_seconds, temperature=temperature,
        evaluation=report, split=split,
    )  # fmt: skip


def _three_way_split(
    y: np.ndarray, test_fraction: float, calibration_fraction: float, seed: int,
    groups: Sequence[str] | None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Held-out test subjects first, then a calibration share of the remaining subjects."""
    train_idx, test_idx = stratified_split(y, test_fraction, seed, groups)
    calibration_idx = np.zeros(0, dtype=np.int64)
    if calibration_fraction > 0:
        rest_groups = None if groups is None else [groups[i] for i in train_idx]
        fit, calibration = stratified_split(y[train_idx], calibration_fraction, seed, rest_groups)
        train_idx, calibration_idx = train_idx[fit], train_idx[calibration]
    return {"train": train_idx, "calibration": calibration_idx, "test": test_idx}


def _predict(model: keras.Model, features: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    if not len(features):
        return np.zeros((0, len(labels)))
    return model.predict(features, batch_size=64, verbose=0)


def _ece(probabilities: np.ndarray, y_true: np.ndarray) -> float | None:
    return round(expected_calibration_error(probabilities, y_true), 6) if len(y_true) else None


def _counts(y: np.ndarray, labels: Sequence[str]) -> dict[str, int]:
    counts = Counter(int(i) for i in y)
    return {label: counts.get(i, 0) for i, label in enumerate(labels)}


def train_synthetic_baseline(
    *,
    n_examples: int = 1000,
    epochs: int = 10,
    seed: int = 0,
    progress: Progress | None = None,
) -> TrainingResult:
    """The project's baseline: a model trained and evaluated on SYNTHETIC sounds only.

    The synthetic task is easy by construction (tones and clicks added to noise), so a held-out
    AUC near 1.0 is expected and says nothing about clinical performance. The result is marked
    `trained_on="synthetic"`, which its metadata, and every page naming it, carries. With the
    defaults it takes about a minute on two idle CPU cores (generation and features included).
    """
    sounds = synth.generate_dataset(n_examples, seed=seed, sample_rate=16000)
    result = train(
        [(sound.samples, sound.label) for sound in sounds],
        labels=synth.LABELS,
        epochs=epochs,
        seed=seed,
        progress=progress,
    )
    return replace(result, trained_on="synthetic")
