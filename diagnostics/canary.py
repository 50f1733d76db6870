"""A canary or shadow model against production, over the same period, and its automatic rollback.

Three measures, per arm, over the diagnostics finished since the trial began
(``ModelVersion.canary_started_at``):

- **agreement**: among the results a clinician reviewed with a definite label (healthy or
  anomaly), the share where the model's answer (its label, or inconclusive when the recording
  failed the quality gate) is the reviewer's;
- **inconclusive rate**: the share of its results that answered inconclusive;
- **error rate**: the share of the diagnostics routed to it that failed.

A canary's arm is the diagnostics it served, production's those production served in the same
period. A shadow's arm is its answers (``ShadowResult``) and production's arm is the very same
diagnostics as they were served: a paired comparison.

``check_trials`` (a Celery beat task every ``CANARY_CHECK_INTERVAL_S``) rolls a trial back when a
measure is worse than production's beyond its bound (``CANARY_MAX_AGREEMENT_DROP``,
``CANARY_MAX_INCONCLUSIVE_RISE``, ``CANARY_MAX_ERROR_RISE``), judged only once both arms hold
``CANARY_MIN_REVIEWED`` reviews (agreement) or ``CANARY_MIN_ANALYSED`` diagnostics (the rates). The
rollback sets the version back to candidate, records why on it, writes an audit event and counts
``portal_model_rollbacks_total``.
"""

import logging
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.utils import timezone

from diagnostics.metrics import ROLLBACKS
from diagnostics.models import (
    Diagnostic,
    DiagnosticStatus,
    Label,
    ModelStatus,
    ModelVersion,
    ShadowResult,
)
from diagnostics.registry import production_version
from portal.core.audit import record_event

logger = logging.getLogger(__name__)

DEFINITE = (Label.HEALTHY, Label.ANOMALY)


def model_answer(prefix: str = "") -> Case:
    """What the model answered as first shown: inconclusive for a recording that failed the
    quality gate, else its label (the reviewer's label is compared with this)."""
    return Case(
        When(~Q(**{f"{prefix}quality_gate": ""}), then=Value(Label.INCONCLUSIVE.value)),
        default=F(f"{prefix}label"),
        output_field=CharField(),
    )


@dataclass(frozen=True)
class Arm:
    """One model's counts over the period."""

    analysed: int  # finished: succeeded or failed
    failed: int
    inconclusive: int
    reviewed: int  # results reviewed with a definite label
    agreed: int

    @property
    def succeeded(self) -> int:
        return self.analysed - self.failed

    @property
    def error_rate(self) -> float | None:
        return self.failed / self.analysed if self.analysed else None

    @property
    def inconclusive_rate(self) -> float | None:
        return self.inconclusive / self.succeeded if self.succeeded else None

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None

    def as_dict(self) -> dict:
        return {**asdict(self), "error_rate": self.error_rate,
                "inconclusive_rate": self.inconclusive_rate, "agreement": self.agreement}  # fmt: skip


def _arm(rows: QuerySet, *, review: str, answer: Case) -> Arm:
    reviewed = Q(**{f"{review}__in": DEFINITE}, status=DiagnosticStatus.SUCCEEDED)
    counts = rows.annotate(answer=answer).aggregate(
        analysed=Count("pk"),
        failed=Count("pk", filter=Q(status=DiagnosticStatus.FAILED)),
        inconclusive=Count(
            "pk", filter=Q(status=DiagnosticStatus.SUCCEEDED, answer=Label.INCONCLUSIVE)
        ),
        reviewed=Count("pk", filter=reviewed),
        agreed=Count("pk", filter=reviewed & Q(answer=F(review))),
    )
    return Arm(**counts)


FINISHED = (DiagnosticStatus.SUCCEEDED, DiagnosticStatus.FAILED)


@dataclass(frozen=True)
class Comparison:
    mode: str  # "canary" or "shadow"
    candidate: ModelVersion
    production: ModelVersion
    since: object
    trial: Arm
    serving: Arm

    def reasons(self) -> list[dict]:
        """The measures past their bound (an empty list: keep going, or too few cases yet)."""
        found = []
        checks = (
            ("agreement", -1, settings.CANARY_MAX_AGREEMENT_DROP, "reviewed",
             settings.CANARY_MIN_REVIEWED),
            ("inconclusive_rate", 1, settings.CANARY_MAX_INCONCLUSIVE_RISE, "succeeded",
             settings.CANARY_MIN_ANALYSED),
            ("error_rate", 1, settings.CANARY_MAX_ERROR_RISE, "analysed",
             settings.CANARY_MIN_ANALYSED),
        )  # fmt: skip
        for measure, worse, bound, base, minimum in checks:
            if min(getattr(self.trial, base), getattr(self.serving, base)) < minimum:
                continue
            trial, serving = getattr(self.trial, measure), getattr(self.serving, measure)
            if worse * (trial - serving) > bound:
                found.append({"measure": measure, "candidate": round(trial, 4),
                              "production": round(serving, 4), "bound": bound})  # fmt: skip
        return found

    def as_dict(self) -> dict:
        return {"mode": self.mode, "since": self.since.isoformat(),
                "candidate": self.trial.as_dict(), "production": self.serving.as_dict()}  # fmt: skip


def compare(candidate: ModelVersion, production: ModelVersion | None = None) -> Comparison | None:
    """The trial ``candidate`` (a canary or a shadow) against production since it began; None
    when there is nothing to compare (no production model, or not a running trial)."""
    production = production or production_version()
    since = candidate.canary_started_at
    if production is None or since is None or production.pk == candidate.pk:
        return None
    if candidate.status == ModelStatus.SHADOW:
        answers = ShadowResult.objects.filter(model_version=candidate, created_at__gte=since)
        trial = _arm(answers, review="diagnostic__review_label", answer=model_answer(""))
        paired = Diagnostic.objects.filter(
            pk__in=answers.values("diagnostic_id"), status__in=FINISHED, model_version=production
        )
        serving = _arm(paired, review="review_label", answer=model_answer())
        return Comparison("shadow", candidate, production, since, trial, serving)
    period = Diagnostic.objects.filter(finished_at__gte=since, status__in=FINISHED)
    trial = _arm(
        period.filter(model_version=candidate), review="review_label", answer=model_answer()
    )
    serving = _arm(
        period.filter(model_version=production), review="review_label", answer=model_answer()
    )
    return Comparison("canary", candidate, production, since, trial, serving)


def check_trials() -> list[dict]:
    """Compare every running canary and shadow with production; roll back those past a bound.
    What was found, per trial (the beat task's result)."""
    outcomes = []
    trials = ModelVersion.objects.filter(status__in=(ModelStatus.CANARY, ModelStatus.SHADOW))
    production = production_version()
    for candidate in trials:
        comparison = compare(candidate, production)
        if comparison is None:
            continue
        reasons = comparison.reasons()
        rolled_back = bool(reasons) and roll_back(comparison=comparison, reasons=reasons)
        outcomes.append({"model_version": str(candidate), "mode": comparison.mode,
                         "rolled_back": rolled_back, "reasons": reasons})  # fmt: skip
    return outcomes


def roll_back(*, comparison: Comparison, reasons: list[dict]) -> bool:
    """End the trial: the version goes back to candidate, with why, audited and counted. False
    when it is no longer that trial (promoted or stopped meanwhile)."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=comparison.candidate.pk)
        if version.status != comparison.mode:
            return False
        version.status = ModelStatus.CANDIDATE
        version.canary_fraction = 0
        version.rolled_back_at = timezone.now()
        version.rollback_reasons = reasons
        version.save(
            update_fields=["status", "canary_fraction", "rolled_back_at", "rollback_reasons"]
        )
        record_event(
            action=f"model.{comparison.mode}_rolled_back", obj=version,
            detail={"reasons": reasons, "comparison": comparison.as_dict(),
                    "production": str(comparison.production)},
        )  # fmt: skip
    ROLLBACKS.labels(comparison.mode).inc()
    logger.warning(
        "model trial rolled back",
        extra={"model_version": str(version), "mode": comparison.mode,
               "measures": [r["measure"] for r in reasons]},
    )  # fmt: skip
    return True
