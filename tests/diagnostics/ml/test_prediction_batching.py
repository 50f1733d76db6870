"""LoadedModel inference: batches equal single calls, any clip length, one traced graph."""

from __future__ import annotations

import numpy as np

from diagnostics.ml.features import fit_clip, log_mel_numpy
from diagnostics.ml.model import LoadedModel, load_artifact
from diagnostics.ml.synth import generate_example

SR = 16000


def _clips(n: int) -> list[np.ndarray]:
    kinds, labels = ("cough", "breath"), ("healthy", "anomaly")
    return [
        generate_example(100 + i, label=labels[i % 2], kind=kinds[(i // 2) % 2]).samples
        for i in range(n)
    ]


def test_batch_prediction_equals_one_at_a_time(tiny_model_artifact):
    model = load_artifact(tiny_model_artifact[0])
    clips = _clips(6)
    batched = model.predict(clips)
    for clip, together in zip(clips, batched, strict=True):
        (alone,) = model.predict([clip])
        assert alone.label == together.label
        for label in model.labels:
            assert abs(alone.scores[label] - together.scores[label]) < 1e-5
        np.testing.assert_allclose(alone.embedding, together.embedding, atol=1e-5)


def test_predictions_carry_scores_that_sum_to_one_and_unit_embeddings(untrained_model):
    predictions = untrained_model.predict(_clips(3))
    for prediction in predictions:
        assert set(prediction.scores) == {"healthy", "anomaly"}
        assert abs(sum(prediction.scores.values()) - 1.0) < 1e-5
        assert prediction.confidence == max(prediction.scores.values())
        assert prediction.label == max(prediction.scores, key=prediction.scores.get)
        assert prediction.embedding.shape == (64,)
        assert abs(float(np.linalg.norm(prediction.embedding)) - 1.0) < 1e-5


def test_clips_of_any_length_are_centre_fitted_before_prediction(untrained_model):
    rng = np.random.default_rng(3)
    long_clip = rng.uniform(-0.5, 0.5, 9 * SR).astype(np.float32)
    short_clip = rng.uniform(-0.5, 0.5, SR // 2).astype(np.float32)
    n = untrained_model.clip_samples
    raw = untrained_model.predict([long_clip, short_clip])
    fitted = untrained_model.predict([fit_clip(long_clip, n), fit_clip(short_clip, n)])
    for a, b in zip(raw, fitted, strict=True):
        np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-6)


def test_loaded_model_feeds_the_network_the_shared_log_mel_features(untrained_model):
    clips = np.stack([fit_clip(c, untrained_model.clip_samples) for c in _clips(2)])
    features = log_mel_numpy(clips, untrained_model.config)
    expected = untrained_model.model(features, training=False).numpy()
    probabilities, _ = untrained_model.infer(clips)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)


def test_inference_is_traced_once_whatever_the_batch_size(untrained_model: LoadedModel):
    untrained_model.warm_up()
    untrained_model.predict(_clips(1))
    untrained_model.predict(_clips(5))
    assert untrained_model._infer.experimental_get_tracing_count() == 1


def test_an_empty_batch_gives_no_predictions(untrained_model):
    assert untrained_model.predict([]) == []
