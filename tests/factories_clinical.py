"""factory_boy factories for recordings, diagnostics and model versions (the clinical side).

Rows only: no audio is stored, which is all the page tests need. Tests that play audio upload a
real file through the API instead.
"""

import factory
from django.utils import timezone

from diagnostics.models import Diagnostic, DiagnosticStatus, ModelVersion
from media_assets.models import Recording, RecordingKind, RecordingStatus
from tests.factories import PatientFactory


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    name = "cough-cnn"
    version = factory.Sequence(lambda n: f"1.{n}")
    artifact = factory.LazyAttribute(lambda o: f"models/{o.name}-{o.version}.keras")
    sha256 = "0" * 64
    labels = ["healthy", "anomaly", "inconclusive"]
    trained_on = "synthetic"


class RecordingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recording

    patient = factory.SubFactory(PatientFactory)
    kind = RecordingKind.COUGH
    status = RecordingStatus.STORED
    storage_key = factory.Sequence(lambda n: f"recordings/test/{n:08d}.wav")
    content_type = "audio/wav"
    size_bytes = 96_044
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    duration_s = 3.0
    sample_rate = 16000
    channels = 1
    quality = factory.LazyFunction(lambda: {"warnings": []})
    stored_at = factory.LazyFunction(timezone.now)


class DiagnosticFactory(factory.django.DjangoModelFactory):
    """A queued diagnostic; ``succeeded()`` and ``failed()`` give the finished kinds."""

    class Meta:
        model = Diagnostic

    recording = factory.SubFactory(RecordingFactory)
    patient = factory.LazyAttribute(lambda o: o.recording.patient)
    status = DiagnosticStatus.QUEUED


def succeeded(label="anomaly", confidence=0.87, model_version=None, **kwargs) -> Diagnostic:
    now = kwargs.pop("finished_at", None) or timezone.now()
    return DiagnosticFactory(
        status=DiagnosticStatus.SUCCEEDED, label=label, confidence=confidence,
        scores={label: confidence}, model_version=model_version or ModelVersionFactory(),
        started_at=now, finished_at=now, attempts=1, **kwargs,
    )  # fmt: skip


def failed(**kwargs) -> Diagnostic:
    return DiagnosticFactory(status=DiagnosticStatus.FAILED, error="model crashed", attempts=1,
                             finished_at=timezone.now(), **kwargs)  # fmt: skip
