"""Fixtures for the ML package: a tiny model trained once per session on SYNTHETIC sounds.

No Django and no database: these tests run with `-p no:django`.
"""

from __future__ import annotations

import os

# Quiet TensorFlow's C++ start-up chatter; must be set before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path

import pytest

from diagnostics.ml.model import LoadedModel, ModelMetadata, build_model, save_artifact
from diagnostics.ml.synth import generate_dataset
from diagnostics.ml.train import TrainingResult, train

TINY_EXAMPLES = 320
TINY_EPOCHS = 3


@pytest.fixture(scope="session")
def progress_calls() -> list[tuple[int, int, dict]]:
    return []


@pytest.fixture(scope="session")
def tiny_training(progress_calls: list) -> TrainingResult:
    """A model trained for three epochs on 320 synthetic clips (a few seconds on two cores)."""
    sounds = generate_dataset(TINY_EXAMPLES, seed=7)
    return train(
        [(sound.samples, sound.label) for sound in sounds],
        epochs=TINY_EPOCHS,
        batch_size=8,
        seed=7,
        progress=lambda epoch, epochs, logs: progress_calls.append((epoch, epochs, logs)),
    )


@pytest.fixture(scope="session")
def tiny_model_artifact(tiny_training: TrainingResult, tmp_path_factory) -> tuple[Path, str]:
    """(path, sha256) of the tiny model saved as an artifact."""
    path = tmp_path_factory.mktemp("artifacts") / "tiny.zip"
    metadata = tiny_training.to_metadata(name="tiny-test", version="0.0.1", trained_on="synthetic")
    return path, save_artifact(tiny_training.model, metadata, path)


@pytest.fixture(scope="session")
def untrained_model() -> LoadedModel:
    """Random weights: enough to test plumbing, where what is learnt does not matter."""
    labels = ("healthy", "anomaly")
    metadata = ModelMetadata(name="untrained", version="0", labels=labels, clip_seconds=5.0)
    return LoadedModel(build_model(labels, metadata.features, metadata.clip_seconds), metadata)
