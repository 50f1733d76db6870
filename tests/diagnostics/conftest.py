"""A tiny trained model for the inference tests: real TensorFlow, trained in seconds, once."""

import pytest


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory):
    from diagnostics.ml import synth
    from diagnostics.ml.model import save_artifact
    from diagnostics.ml.train import train

    sounds = synth.generate_dataset(48, seed=3, sample_rate=16000)
    result = train(
        [(s.samples, s.label) for s in sounds], labels=synth.LABELS, epochs=1, seed=3,
        clip_seconds=2.0,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("model") / "tiny.zip"
    metadata = result.to_metadata(name="tiny-test-model", version="1", trained_on="synthetic")
    save_artifact(result.model, metadata, path)
    return path


@pytest.fixture
def production_model(tiny_artifact, db, media_root):
    from diagnostics.models import ModelStatus
    from diagnostics.registry import register_model_version

    return register_model_version(artifact_path=tiny_artifact, status=ModelStatus.PRODUCTION)


@pytest.fixture
def worker_env(process_env, tmp_path):
    return {**process_env, "MODEL_CACHE_DIR": str(tmp_path / "model-cache"), "LOG_LEVEL": "INFO"}
