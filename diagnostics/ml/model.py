"""The respiratory-sound CNN, its artifact format, and the loaded model used for inference.

A model version is ONE zip file holding `model.keras` (the Keras model) and `metadata.json`
(labels, sample rate, clip length, feature config, metrics, name, version, what it was trained on,
when it was made). Its sha256 is what the registry records; `load_artifact` refuses a file whose
hash differs, so a worker never serves a model other than the one a person promoted.

`LoadedModel` turns waveforms into `Prediction`s through one compiled `tf.function` that runs the
shared front end (`features.log_mel`) and the network together.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from diagnostics.ml.features import FeatureConfig, fit_clips, log_mel

EMBEDDING_LAYER = "embedding"
NORMALIZATION_LAYER = "band_norm"
EMBEDDING_DIM = 64
ARTIFACT_FORMAT = 1
_MODEL_MEMBER = "model.keras"
_METADATA_MEMBER = "metadata.json"
# An artifact is a few hundred kB; refuse to unpack anything absurdly large (zip bombs).
_MAX_MEMBER_BYTES = 256 * 1024 * 1024
# Bounds memory when a caller hands `predict` a long list.
_MAX_BATCH = 64


class ArtifactError(Exception):
    """A model artifact is missing, unreadable, or not a model this code can serve."""


class ArtifactIntegrityError(ArtifactError):
    """A model artifact's sha256 differs from the one the registry recorded."""


def build_model(
    labels: Sequence[str], config: FeatureConfig | None = None, clip_seconds: float = 5.0
) -> keras.Model:
    """A small CNN over log-mel frames: input [batch, frames, n_mels], softmax over `labels`.

    Frames may vary in number; `clip_seconds` only checks that the clip is long enough for the
    three stride-2 convolutions. The convolutions are 2-D (time x mel band): a wheeze at 200 Hz
    and one at 800 Hz are the same pattern shifted in frequency, which 2-D kernels learn once,
    so the model learns from few examples. The 64-unit Dense layer named `embedding` feeds the
    classifier and is what similar-case retrieval compares. The first layer normalises each mel
    band with statistics that training sets (`Normalization.adapt`); they are saved with the model.
    """
    config = config or FeatureConfig()
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"need at least two distinct labels, got {list(labels)}")
    if config.n_frames(round(clip_seconds * config.sample_rate)) < 16:
        raise ValueError(f"clip of {clip_seconds} s is too short for the model")
    inputs = keras.Input(shape=(None, config.n_mels), name="log_mel")
    x = keras.layers.Normalization(axis=-1, name=NORMALIZATION_LAYER)(inputs)
    x = keras.layers.Reshape((-1, config.n_mels, 1), name="as_image")(x)
    for i, filters in enumerate((16, 32, 64), start=1):
        x = keras.layers.Conv2D(
            filters, 3, strides=2, padding="same", activation="relu", name=f"conv{i}"
        )(x)
    # Average pooling hears sustained wheeze; max pooling hears a single crackle.
    pooled = keras.layers.Concatenate(name="pool")(
        [keras.layers.GlobalAveragePooling2D()(x), keras.layers.GlobalMaxPooling2D()(x)]
    )
    embedding = keras.layers.Dense(EMBEDDING_DIM, activation="relu", name=EMBEDDING_LAYER)(pooled)
    x = keras.layers.Dropout(0.1, name="dropout")(embedding)
    outputs = keras.layers.Dense(len(labels), activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="respiratory_cnn")


@dataclass(frozen=True)
class ModelMetadata:
    """What travels with a model: enough to serve it and to say what it is."""

    name: str
    version: str
    labels: tuple[str, ...]
    clip_seconds: float
    features: FeatureConfig = field(default_factory=FeatureConfig)
    metrics: dict[str, Any] = field(default_factory=dict)
    trained_on: str = "unspecified"
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    # Temperature scaling fitted on a validation split (`evaluation.fit_temperature`); inference
    # divides the log-probabilities by it. 1.0 (no change) for models trained without it.
    temperature: float = 1.0

    @property
    def sample_rate(self) -> int:
        return self.features.sample_rate

    @property
    def clip_samples(self) -> int:
        return round(self.clip_seconds * self.features.sample_rate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "name": self.name,
            "version": self.version,
            "labels": list(self.labels),
            "sample_rate": self.sample_rate,
            "clip_seconds": self.clip_seconds,
            "features": self.features.to_dict(),
            "metrics": self.metrics,
            "trained_on": self.trained_on,
            "created_at": self.created_at,
            "temperature": self.temperature,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetadata:
        """Inverse of `to_dict`; raises KeyError/ValueError/TypeError on a malformed dict."""
        if data.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"unsupported artifact format {data.get('format')!r}")
        features = FeatureConfig.from_dict(data["features"])
        if int(data["sample_rate"]) != features.sample_rate:
            raise ValueError("sample_rate disagrees with the feature config")
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            labels=tuple(str(label) for label in data["labels"]),
            clip_seconds=float(data["clip_seconds"]),
            features=features,
            metrics=dict(data["metrics"]),
            trained_on=str(data["trained_on"]),
            created_at=str(data["created_at"]),
            temperature=_temperature(data.get("temperature", 1.0)),
        )


def _temperature(value: Any) -> float:
    temperature = float(value)
    if not 0.01 <= temperature <= 100.0:
        raise ValueError(f"temperature {temperature} is not a calibration")
    return temperature


@dataclass(frozen=True, eq=False)
class Prediction:
    """One clip's result: the top label, its probability, all scores, and a unit-norm embedding."""

    label: str
    confidence: float
    scores: dict[str, float]
    embedding: np.ndarray


class LoadedModel:
    """A model ready to serve: one compiled feature+network function, built once per process."""

    def __init__(self, model: keras.Model, metadata: ModelMetadata) -> None:
        if model.output_shape[-1] != len(metadata.labels):
            raise ArtifactError(
                f"model has {model.output_shape[-1]} outputs for {len(metadata.labels)} labels"
            )
        self.model = model
        self.metadata = metadata
        self.config = metadata.features
        self.labels = metadata.labels
        self.clip_samples = metadata.clip_samples
        # One graph returning both heads, so the embedding costs no second pass.
        self._heads = keras.Model(
            model.inputs, [model.outputs[0], model.get_layer(EMBEDDING_LAYER).output]
        )
        # A fixed signature with a free batch size: traced once, whatever the batch.
        self._infer = tf.function(
            self._forward,
            input_signature=[tf.TensorSpec([None, self.clip_samples], tf.float32)],
        )

    def _forward(self, waveforms: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        features = log_mel(waveforms, self.config)
        probabilities, embeddings = self._heads(features, training=False)
        if self.metadata.temperature != 1.0:  # calibrated: the same ranking, honest confidences
            logits = tf.math.log(tf.maximum(probabilities, 1e-7)) / self.metadata.temperature
            probabilities = tf.nn.softmax(logits, axis=-1)
        return probabilities, tf.math.l2_normalize(embeddings, axis=-1)

    def infer(self, waveforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities [n, labels], unit embeddings [n, 64]) for fitted [n, clip_samples]."""
        probabilities, embeddings = [], []
        for start in range(0, len(waveforms), _MAX_BATCH):
            p, e = self._infer(tf.constant(waveforms[start : start + _MAX_BATCH]))
            probabilities.append(p.numpy())
            embeddings.append(e.numpy())
        return np.concatenate(probabilities), np.concatenate(embeddings)

    def predict(self, waveforms: Sequence[np.ndarray]) -> list[Prediction]:
        """Predictions for mono float32 clips at the model's sample rate, of any length.

        Each clip is centre-cropped or zero-padded to the model's clip length first.
        """
        if len(waveforms) == 0:
            return []
        return self.predictions(*self.infer(self.fit(waveforms)))

    def fit(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Clips of any length as the [n, clip_samples] batch ``infer`` takes."""
        return fit_clips(waveforms, self.clip_samples)

    def predictions(self, probabilities: np.ndarray, embeddings: np.ndarray) -> list[Prediction]:
        """``infer``'s arrays as labelled predictions, one per clip."""
        return [self._prediction(p, e) for p, e in zip(probabilities, embeddings, strict=True)]

    def _prediction(self, probabilities: np.ndarray, embedding: np.ndarray) -> Prediction:
        best = int(np.argmax(probabilities))
        return Prediction(
            label=self.labels[best],
            confidence=float(probabilities[best]),
            scores={label: float(p) for label, p in zip(self.labels, probabilities, strict=True)},
            embedding=embedding,
        )

    def warm_up(self) -> None:
        """Run one silent clip so the first real request does not pay for tracing."""
        self.infer(np.zeros((1, self.clip_samples), dtype=np.float32))


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_artifact(model: keras.Model, metadata: ModelMetadata, path: str | os.PathLike[str]) -> str:
    """Write the artifact zip to `path` atomically and return its sha256."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / _MODEL_MEMBER
        model.save(model_file)
        partial = Path(tmp) / "artifact.zip"
        with zipfile.ZipFile(partial, "w") as archive:
            # model.keras is itself a zip; compressing it again gains nothing.
            archive.write(model_file, _MODEL_MEMBER, compress_type=zipfile.ZIP_STORED)
            archive.writestr(
                _METADATA_MEMBER,
                json.dumps(metadata.to_dict(), indent=2, sort_keys=True),
                compress_type=zipfile.ZIP_DEFLATED,
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        # Same-directory temp + replace: readers never see a half-written artifact.
        staged = path.with_name(f".{path.name}.partial")
        staged.write_bytes(partial.read_bytes())
        os.replace(staged, path)
    return sha256_of(path)


def load_artifact(
    path: str | os.PathLike[str], *, expected_sha256: str | None = None
) -> LoadedModel:
    """Load an artifact, checking its sha256 first when `expected_sha256` is given.

    Raises ArtifactIntegrityError on a hash mismatch and ArtifactError when the file is missing,
    corrupt or not a model artifact.
    """
    path = Path(path)
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise ArtifactError(f"cannot read model artifact {path}: {exc}") from exc
    if expected_sha256 is not None and actual != expected_sha256.lower():
        raise ArtifactIntegrityError(
            f"model artifact {path} has sha256 {actual}, expected {expected_sha256}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        metadata, model_file = _unpack(path, Path(tmp))
        try:
            model = keras.models.load_model(model_file, compile=False, safe_mode=True)
        except Exception as exc:
            # Keras raises many types for a bad file; all mean the same to the caller.
            raise ArtifactError(f"model artifact {path} holds no loadable model: {exc}") from exc
    if not isinstance(model, keras.Model) or EMBEDDING_LAYER not in {
        layer.name for layer in model.layers
    }:
        raise ArtifactError(f"model artifact {path} lacks an '{EMBEDDING_LAYER}' layer")
    return LoadedModel(model, metadata)


def _unpack(path: Path, into: Path) -> tuple[ModelMetadata, Path]:
    """Validate the zip's members, parse metadata.json and extract model.keras into `into`."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            for name in (_MODEL_MEMBER, _METADATA_MEMBER):
                if name not in members:
                    raise ArtifactError(f"model artifact {path} has no {name}")
                if members[name].file_size > _MAX_MEMBER_BYTES:
                    raise ArtifactError(f"model artifact {path}: {name} is too large")
            metadata = ModelMetadata.from_dict(json.loads(archive.read(_METADATA_MEMBER)))
            model_file = into / _MODEL_MEMBER
            model_file.write_bytes(archive.read(_MODEL_MEMBER))
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors.
        raise ArtifactError(f"model artifact {path} is corrupt: {exc}") from exc
    return metadata, model_file
