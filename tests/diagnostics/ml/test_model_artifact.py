"""Model artifacts: one zip with model and metadata, verified by sha256 before it is served."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest

from diagnostics.ml.model import (
    EMBEDDING_DIM,
    ArtifactError,
    ArtifactIntegrityError,
    LoadedModel,
    build_model,
    load_artifact,
    save_artifact,
    sha256_of,
)
from diagnostics.ml.synth import generate_example


def test_model_has_a_64_unit_embedding_before_a_softmax_over_the_labels():
    model = build_model(["healthy", "anomaly", "inconclusive"])
    assert model.get_layer("embedding").units == EMBEDDING_DIM == 64
    assert model.input_shape == (None, None, 64)
    assert model.output_shape == (None, 3)
    assert model.count_params() < 100_000


def test_artifact_is_a_zip_of_model_keras_and_metadata_json(tiny_model_artifact):
    path, sha = tiny_model_artifact
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {"model.keras", "metadata.json"}
        metadata = json.loads(archive.read("metadata.json"))
    assert metadata["labels"] == ["healthy", "anomaly"]
    assert metadata["sample_rate"] == 16000 and metadata["clip_seconds"] == 5.0
    assert metadata["trained_on"] == "synthetic"
    assert metadata["features"]["n_mels"] == 64
    assert set(metadata) >= {"name", "version", "metrics", "created_at"}
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest() == sha256_of(path)


def test_artifact_round_trip_keeps_metadata_and_predictions(tiny_training, tiny_model_artifact):
    path, sha = tiny_model_artifact
    loaded = load_artifact(path, expected_sha256=sha)
    assert loaded.metadata.name == "tiny-test" and loaded.metadata.version == "0.0.1"
    assert loaded.metadata.metrics == tiny_training.metrics
    assert loaded.metadata.features == tiny_training.config
    clip = generate_example(5, label="anomaly", kind="breath").samples
    (prediction,) = loaded.predict([clip])
    (expected,) = LoadedModel(tiny_training.model, loaded.metadata).predict([clip])
    assert prediction.scores == pytest.approx(expected.scores, abs=1e-6)
    np.testing.assert_allclose(prediction.embedding, expected.embedding, atol=1e-6)


def test_sha256_mismatch_raises_integrity_error(tiny_model_artifact):
    path, sha = tiny_model_artifact
    wrong = ("0" if sha[0] != "0" else "1") + sha[1:]
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        load_artifact(path, expected_sha256=wrong)


def test_integrity_error_is_an_artifact_error():
    assert issubclass(ArtifactIntegrityError, ArtifactError)


def test_missing_file_raises_artifact_error(tmp_path):
    with pytest.raises(ArtifactError):
        load_artifact(tmp_path / "absent.zip")


def test_corrupt_file_raises_artifact_error(tmp_path):
    path = tmp_path / "garbage.zip"
    path.write_bytes(b"not a zip at all" * 100)
    with pytest.raises(ArtifactError, match="corrupt"):
        load_artifact(path, expected_sha256=sha256_of(path))


def test_truncated_artifact_raises_artifact_error(tiny_model_artifact, tmp_path):
    path = tmp_path / "truncated.zip"
    path.write_bytes(tiny_model_artifact[0].read_bytes()[:5000])
    with pytest.raises(ArtifactError):
        load_artifact(path)


def test_zip_without_a_model_raises_artifact_error(tiny_model_artifact, tmp_path):
    path = tmp_path / "metadata-only.zip"
    with zipfile.ZipFile(tiny_model_artifact[0]) as source, zipfile.ZipFile(path, "w") as target:
        target.writestr("metadata.json", source.read("metadata.json"))
    with pytest.raises(ArtifactError, match=r"model\.keras"):
        load_artifact(path)


def test_zip_whose_model_is_not_a_keras_file_raises_artifact_error(tiny_model_artifact, tmp_path):
    path = tmp_path / "fake-model.zip"
    with zipfile.ZipFile(tiny_model_artifact[0]) as source, zipfile.ZipFile(path, "w") as target:
        target.writestr("metadata.json", source.read("metadata.json"))
        target.writestr("model.keras", b"definitely not keras")
    with pytest.raises(ArtifactError, match="no loadable model"):
        load_artifact(path)


def test_saving_over_an_artifact_replaces_it_whole(tiny_training, tmp_path):
    path = tmp_path / "model.zip"
    metadata = tiny_training.to_metadata(name="a", version="1")
    first = save_artifact(tiny_training.model, metadata, path)
    second = save_artifact(
        tiny_training.model, tiny_training.to_metadata(name="b", version="2"), path
    )
    assert first != second == sha256_of(path)
    assert load_artifact(path).metadata.name == "b"
    assert [p.name for p in tmp_path.iterdir() if "model.zip" in p.name] == ["model.zip"]
