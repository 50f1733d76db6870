"""Demo recordings for the embedded default: SYNTHETIC sounds, analysed and partly reviewed.

Every demo patient gets a couple of generated coughs or breaths (test and demo data, never a real
person's sound), analysed with the production model before the server starts and spread over the
last two weeks, so that every page, the chart, the review queue and the research export have
something to show on first run.
"""

import io
import random
from datetime import timedelta

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import F, Q

from diagnostics.ml import synth
from diagnostics.models import Diagnostic, DiagnosticStatus, Label
from diagnostics.reviews import Decision, review_diagnostic
from diagnostics.services import submit_recording
from media_assets.models import MIN_SECONDS_BY_KIND, Recording
from portal.core.models import Membership, Patient, Role

RECORDINGS_PER_PATIENT = 2
REVIEWED_SHARE = 0.4
SPREAD_DAYS = 14


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
            label, kind = rng.choice(synth.LABELS), rng.choice(synth.KINDS)
            sound = synth.generate_example(
                np_rng, label=label, kind=kind,
                min_duration_s=MIN_SECONDS_BY_KIND[kind],  # as long as an upload must be
            )  # fmt: skip
            submission = submit_recording(
                patient=patient, file=io.BytesIO(synth.to_wav_bytes(sound)), kind=sound.kind,
                symptoms=_symptoms(rng, sound.label), actor=clinician,
                original_name=f"demo-synthetic-{sound.kind}.wav",
            )  # fmt: skip
            created.append((submission.diagnostic, clinician))
    if not created:
        return 0
    # TensorFlow, only once there is something to analyse: `make run` calls this on every start,
    # and loading it to find every demo patient already recorded cost 8 to 16 s of each restart.
    from diagnostics import inference

    for diagnostic, _ in created:
        inference.run_diagnostic(diagnostic_id=diagnostic.pk, task_id=f"demo-seed-{diagnostic.pk}")
    _review_some(created, rng)
    _spread_over_days(created, rng)
    return len(created)


def _spread_over_days(created, rng: random.Random) -> None:
    """Move each demo recording and its result back by up to ``SPREAD_DAYS`` - 1 days (a few
    stay today), so the home page's 14-day chart and worklist look like a clinic's fortnight."""
    for diagnostic, _ in created:
        days = 0 if rng.random() < 0.2 else rng.randrange(SPREAD_DAYS)
        shift = timedelta(days=days, minutes=rng.randrange(0, 8 * 60))
        if not days:
            continue
        Recording.objects.filter(pk=diagnostic.recording_id).update(
            created_at=F("created_at") - shift, stored_at=F("stored_at") - shift
        )
        Diagnostic.objects.filter(pk=diagnostic.pk).update(
            **{
                name: F(name) - shift
                for name in ("queued_at", "started_at", "finished_at", "reviewed_at")
            }
        )


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
