"""Demo recordings for the embedded default: SYNTHETIC sounds, analysed and partly reviewed.

Every demo patient gets a couple of generated coughs or breaths (test and demo data, never a real
person's sound), analysed with the production model before the server starts, so that every page,
the review queue and the research export have something to show on first run.
"""

import io
import random

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Q

from diagnostics import inference
from diagnostics.ml import synth
from diagnostics.models import DiagnosticStatus, Label
from diagnostics.reviews import Decision, review_diagnostic
from diagnostics.services import submit_recording
from portal.core.models import Membership, Patient, Role

RECORDINGS_PER_PATIENT = 2
REVIEWED_SHARE = 0.4


def seed_demo_recordings(*, seed: int = 11) -> int:
    """Add demo recordings to demo patients that have none; returns how many were added."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    patients = Patient.objects.filter(recordings__isnull=True).select_related("site")
    created = []
    for patient in patients:
        clinician = _clinician_of(patient)
        if clinician is None:
            continue
        for _ in range(RECORDINGS_PER_PATIENT):
            sound = synth.generate_example(
                np_rng, label=rng.choice(synth.LABELS), kind=rng.choice(synth.KINDS)
            )
            submission = submit_recording(
                patient=patient, file=io.BytesIO(synth.to_wav_bytes(sound)), kind=sound.kind,
                symptoms=_symptoms(rng, sound.label), actor=clinician,
                original_name=f"demo-synthetic-{sound.kind}.wav",
            )  # fmt: skip
            created.append((submission.diagnostic, clinician))
    for diagnostic, _ in created:
        inference.run_diagnostic(diagnostic_id=diagnostic.pk, task_id=f"demo-seed-{diagnostic.pk}")
    _review_some(created, rng)
    return len(created)


def _clinician_of(patient: Patient):
    membership = (
        Membership.objects.filter(site=patient.site_id, role=Role.CLINICIAN)
        .select_related("user")
        .first()
    )
    return (
        membership.user
        if membership
        else get_user_model().objects.filter(Q(is_superuser=True)).first()
    )


def _symptoms(rng: random.Random, label: str) -> dict:
    unwell = label == "anomaly"
    return {
        "fever": rng.random() < (0.5 if unwell else 0.1),
        "cough_days": rng.randint(3, 30) if unwell else rng.randint(0, 5),
        "shortness_of_breath": rng.random() < (0.6 if unwell else 0.05),
    }


def _review_some(created, rng: random.Random) -> None:
    for diagnostic, clinician in created:
        diagnostic.refresh_from_db()
        if diagnostic.status != DiagnosticStatus.SUCCEEDED or rng.random() > REVIEWED_SHARE:
            continue
        if diagnostic.label == Label.INCONCLUSIVE:
            review_diagnostic(
                diagnostic=diagnostic, actor=clinician, decision=Decision.CORRECT,
                label=rng.choice([Label.HEALTHY, Label.ANOMALY]),
            )  # fmt: skip
        else:
            review_diagnostic(diagnostic=diagnostic, actor=clinician, decision=Decision.CONFIRM)
