"""Training runs from reviewed results: the data snapshot, starting, cancelling, reproducing.

A run trains on the reviewed labels (the review is the truth: ``diagnostics.reviews``) of
patients who consent to research (``portal.core.permissions.research_consenting``): clinicians'
reviews, and optionally the labels of imported public data sets (``diagnostics.dataset_import``,
whose diagnostics carry no reviewer). Only "healthy" and "anomaly" train; "inconclusive" says
nothing about the sound.

The snapshot is frozen when the run is made: per example the diagnostic, its recording, the
recording's sha256, the label, the patient (the split's group: no patient on both sides) and the
subgroup values the evaluation reports (sex, age band, site, recording kind). The worker reads the
bytes of each recording and refuses one whose sha256 changed, so a run reproduced from its
snapshot trains on the same bytes and, seeded, gives the same metrics. The work itself is
``diagnostics.training_worker``, on the ``training`` Celery queue.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from diagnostics.dataset_import import DATASETS
from diagnostics.models import Diagnostic, Label, TrainingRun, TrainingStatus
from media_assets.models import RecordingStatus
from portal.core.audit import AuditContext, record_event
from portal.core.errors import Conflict, Invalid
from portal.core.permissions import research_consenting

DEFAULT_PARAMETERS: dict[str, Any] = {
    "name": "cough-cnn",
    "seed": 0,
    "epochs": 10,
    "batch_size": 32,
    "clip_seconds": 5.0,
    "validation_fraction": 0.2,
    "calibration_fraction": 0.2,
    "datasets": [],
}
# (lowest age, band), oldest first: wide bands, so each holds enough cases to compare.
AGE_BANDS = ((80, "80+"), (60, "60-79"), (40, "40-59"), (18, "18-39"), (0, "0-17"))


class TrainingRefused(Conflict):
    """A run cannot be started, cancelled or reproduced in the state it is in."""

    code = "training_refused"

    def __init__(self, message) -> None:
        super().__init__(str(message))


def training_diagnostics(*, datasets: list[str] | tuple[str, ...] = ()):
    """Reviewed diagnostics a run may train on: clinicians' reviews of consenting patients, and
    the labels of the named imported data sets; stored recordings only."""
    unknown = set(datasets) - set(DATASETS)
    if unknown:
        raise Invalid(_("Unknown data set(s): %(names)s.") % {"names": ", ".join(sorted(unknown))})
    reviewed = Diagnostic.objects.filter(
        review_label__in=(Label.HEALTHY, Label.ANOMALY),
        recording__status=RecordingStatus.STORED,
    ).exclude(patient__site__code__in=set(DATASETS) - set(datasets))
    clinicians = reviewed.filter(reviewed_by__isnull=False)
    imported = reviewed.filter(reviewed_by__isnull=True, patient__site__code__in=datasets)
    return research_consenting(clinicians | imported)


def age_band(birth_date: datetime.date | None, at: datetime.date) -> str:
    """The patient's age band at the recording: what the evaluation's subgroups compare."""
    if birth_date is None:
        return "unknown"
    age = at.year - birth_date.year - ((at.month, at.day) < (birth_date.month, birth_date.day))
    return next((name for lower, name in AGE_BANDS if age >= lower), "unknown")


def build_snapshot(*, datasets: list[str] | tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The examples a run made now would train on, frozen (ids, sha256, label, group, subgroups)."""
    rows = (
        training_diagnostics(datasets=datasets)
        .select_related("recording", "patient__site")
        .order_by("id")
    )
    return [
        {
            "diagnostic": d.id,
            "recording": d.recording_id,
            "sha256": d.recording.sha256,
            "label": d.review_label,
            "patient": d.patient_id,
            "sex": d.patient.sex or "unknown",
            "age_band": age_band(d.patient.birth_date, d.recording.created_at.date()),
            "site": d.patient.site.code,
            "kind": d.recording.kind,
        }
        for d in rows
    ]


def _parameters(overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = set(overrides) - set(DEFAULT_PARAMETERS)
    if unknown:
        raise Invalid(_("Unknown training parameter(s): %(names)s.") % {"names": sorted(unknown)})
    parameters = {**DEFAULT_PARAMETERS, **overrides}
    if int(parameters["epochs"]) < 1 or int(parameters["batch_size"]) < 1:
        raise Invalid(_("Epochs and batch size are at least 1."))
    return parameters


def start_training_run(
    *, actor: AbstractBaseUser | None, parameters: dict[str, Any] | None = None,
    audit: AuditContext | None = None, enqueue: bool = True,
) -> TrainingRun:  # fmt: skip
    """Freeze a snapshot of the reviewed data, make a queued run and send it to the workers
    (``enqueue=False``: the caller runs it, as ``train_model --from-reviews`` does)."""
    parameters = _parameters(parameters or {})
    snapshot = build_snapshot(datasets=parameters["datasets"])
    labels = {row["label"] for row in snapshot}
    if labels != {Label.HEALTHY, Label.ANOMALY}:
        raise TrainingRefused(
            _("Training needs reviewed examples of both labels; found %(n)s example(s).")
            % {"n": len(snapshot)}
        )
    return _queue(
        snapshot=snapshot, parameters=parameters, actor=actor, audit=audit, enqueue=enqueue
    )


def reproduce_training_run(
    *, run: TrainingRun, actor: AbstractBaseUser | None, audit: AuditContext | None = None,
    enqueue: bool = True,
) -> TrainingRun:  # fmt: skip
    """A new run on the same snapshot and parameters (under a version name of its own)."""
    if not run.snapshot:
        raise TrainingRefused(_("This run has no snapshot to reproduce."))
    return _queue(
        snapshot=run.snapshot, parameters=run.parameters, actor=actor, audit=audit,
        reproduces=run, enqueue=enqueue,
    )  # fmt: skip


def _queue(*, snapshot, parameters, actor, audit, reproduces=None, enqueue=True) -> TrainingRun:
    from diagnostics.tasks import run_training

    with transaction.atomic():
        run = TrainingRun.objects.create(
            snapshot=snapshot, n_examples=len(snapshot), parameters=parameters,
            started_by=actor if actor is not None and actor.is_authenticated else None,
            reproduces=reproduces,
        )  # fmt: skip
        record_event(
            action="training.started", actor=actor, obj=run, context=audit,
            detail={"examples": len(snapshot), "datasets": parameters["datasets"],
                    "reproduces": reproduces.pk if reproduces else None},
        )  # fmt: skip
        if enqueue:
            transaction.on_commit(lambda: run_training.delay(run.pk))
    return run


def cancel_training_run(
    *, run: TrainingRun, actor: AbstractBaseUser | None, audit: AuditContext | None = None
) -> TrainingRun:
    """Ask a run to stop: a queued one is cancelled at once, a running one between batches."""
    with transaction.atomic():
        locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if locked.is_finished:
            raise TrainingRefused(_("This run has already finished."))
        locked.cancel_requested = True
        fields = ["cancel_requested"]
        if locked.status == TrainingStatus.QUEUED:
            locked.status, locked.finished_at = TrainingStatus.CANCELLED, timezone.now()
            fields += ["status", "finished_at"]
        locked.save(update_fields=fields)
        record_event(action="training.cancel_requested", actor=actor, obj=locked, context=audit)
    return locked
