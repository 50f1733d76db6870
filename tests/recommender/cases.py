"""Cases with hand-made embeddings, for tests about ranking and filtering logic.

The query looks along axis 0; ``near(cosine, axis)`` is a unit vector with that cosine to it,
leaning towards its own ``axis``, so cases are as similar to the query as a test says and barely
similar to each other.
"""

import math

import numpy as np
from django.utils import timezone

from diagnostics.models import DiagnosticStatus
from tests.factories_clinical import DiagnosticFactory, RecordingFactory

QUERY = 0


def near(cosine: float, axis: int) -> np.ndarray:
    vector = np.zeros(64, dtype=np.float32)
    vector[QUERY] = cosine
    vector[axis] = math.sqrt(max(0.0, 1 - cosine**2))
    return vector / np.linalg.norm(vector)


def axis_vector(axis: int = QUERY) -> np.ndarray:
    vector = np.zeros(64, dtype=np.float32)
    vector[axis] = 1.0
    return vector


def case(*, patient, vector, version, review_label="", label="anomaly", p_anomaly=0.9,
         symptoms=None, kind="cough", queued_at=None):  # fmt: skip
    """A succeeded diagnostic of ``patient`` with ``vector`` as its embedding by ``version``."""
    now = timezone.now()
    return DiagnosticFactory(
        recording=RecordingFactory(patient=patient, kind=kind),
        status=DiagnosticStatus.SUCCEEDED, label=label,
        confidence=max(p_anomaly, 1 - p_anomaly),
        scores={"healthy": round(1 - p_anomaly, 6), "anomaly": p_anomaly},
        model_version=version, embedding=np.asarray(vector, dtype=np.float32).tobytes(),
        symptoms=symptoms or {}, queued_at=queued_at or now, started_at=now, finished_at=now,
        review_label=review_label, reviewed_at=now if review_label else None,
    )  # fmt: skip


def ids(result) -> list[int]:
    return [c.id for c in result.cases]


def many_reviewed(*, site, version, vectors, patients: int = 20) -> list[int]:
    """Reviewed cases for ``vectors`` (rows), spread over a few patients; bulk-inserted."""
    from diagnostics.models import Diagnostic
    from media_assets.models import Recording, RecordingKind, RecordingStatus
    from tests.factories import PatientFactory

    people = [PatientFactory(site=site) for _ in range(patients)]
    now = timezone.now()
    recordings = Recording.objects.bulk_create(
        Recording(patient=people[i % patients], kind=RecordingKind.COUGH,
                  status=RecordingStatus.STORED, storage_key=f"recordings/bulk/{site.pk}/{i}.wav",
                  size_bytes=1, sha256=f"{site.pk:08x}{i:056x}", stored_at=now)
        for i in range(len(vectors))
    )  # fmt: skip
    diagnostics = Diagnostic.objects.bulk_create(
        Diagnostic(recording=r, patient_id=r.patient_id, status=DiagnosticStatus.SUCCEEDED,
                   label="anomaly" if i % 2 else "healthy", confidence=0.9,
                   scores={"anomaly": 0.9 if i % 2 else 0.1}, model_version=version,
                   embedding=np.asarray(v, dtype=np.float32).tobytes(),
                   review_label="anomaly" if i % 2 else "healthy", reviewed_at=now,
                   queued_at=now, finished_at=now)
        for i, (r, v) in enumerate(zip(recordings, vectors, strict=True))
    )  # fmt: skip
    return [d.pk for d in diagnostics]


def random_unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, 64)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
