"""A tiny trained model for the inference tests: real TensorFlow, trained in seconds, once."""

import pytest

from tests.fixtures.tiny_models import train_tiny_artifact


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory):
    return train_tiny_artifact(
        tmp_path_factory.mktemp("model") / "tiny.zip", seed=3, name="tiny-test-model", version="1"
    )


@pytest.fixture
def production_model(tiny_artifact, db, media_root):
    from diagnostics.models import ModelStatus
    from diagnostics.registry import register_model_version

    return register_model_version(artifact_path=tiny_artifact, status=ModelStatus.PRODUCTION)


@pytest.fixture(scope="session")
def second_artifact(tiny_artifact, tmp_path_factory):
    """The tiny model again under version "2": a distinct artifact to promote or run as a canary."""
    from dataclasses import replace

    from diagnostics.ml.model import load_artifact, save_artifact

    loaded = load_artifact(tiny_artifact)
    path = tmp_path_factory.mktemp("model") / "tiny-2.zip"
    save_artifact(loaded.model, replace(loaded.metadata, version="2"), path)
    return path


@pytest.fixture
def empty_broker(redis_server):
    """No task messages or live-update groups left over from earlier tests."""
    from tests.diagnostics.inference_steps import broker_client

    client = broker_client()
    client.flushdb()
    client.close()


@pytest.fixture
def fault_dir(tmp_path):
    """Where the faulty worker reports held tasks and the test releases them."""
    path = tmp_path / "faults"
    path.mkdir()
    return path


@pytest.fixture
def worker_env(process_env, tmp_path, fault_dir, empty_broker):
    return {
        **process_env,
        "MODEL_CACHE_DIR": str(tmp_path / "model-cache"),
        "LOG_LEVEL": "INFO",
        "FAULT_DIR": str(fault_dir),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


@pytest.fixture(scope="session")
def contrary_artifact(tiny_artifact, tmp_path_factory):
    """The tiny model with its labels swapped (version "contrary"): the same network, so on every
    recording it answers the other label with the same confidence. A candidate made to disagree."""
    from dataclasses import replace

    from diagnostics.ml.model import load_artifact, save_artifact

    loaded = load_artifact(tiny_artifact)
    labels = tuple(reversed(loaded.metadata.labels))
    path = tmp_path_factory.mktemp("model") / "tiny-contrary.zip"
    save_artifact(loaded.model, replace(loaded.metadata, version="contrary", labels=labels), path)
    return path


@pytest.fixture
def model_trial_settings(settings, tmp_path):
    """Every answer labelled (no threshold, no quality gate) and trials judged on a few cases."""
    settings.MODEL_CACHE_DIR = tmp_path / "model-cache"
    settings.INFERENCE_CONFIDENCE_THRESHOLD = 0.0
    settings.QUALITY_GATE_MAX_SILENCE_RATIO = 1.0
    settings.QUALITY_GATE_MAX_CLIPPING_RATIO = 1.0
    settings.QUALITY_GATE_COUGH_REQUIRED = False
    settings.CANARY_MIN_REVIEWED = 2
    settings.CANARY_MIN_ANALYSED = 2
    return settings
