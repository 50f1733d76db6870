"""Diagnostics (a model's answer about one recording, and a clinician's review of it) and the
registry of model versions that produce them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, Count, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from media_assets.models import Recording
from portal.core.models import Patient


class Label(models.TextChoices):
    HEALTHY = "healthy", _("likely healthy")
    ANOMALY = "anomaly", _("possible respiratory anomaly")
    INCONCLUSIVE = "inconclusive", _("inconclusive: please re-record or review")


class QualityGate(models.TextChoices):
    """Why a recording's sound cannot carry a result, whatever the model said of it."""

    MOSTLY_SILENT = "mostly_silent", _("the recording is mostly silence")
    CLIPPED = "clipped", _("the sound is distorted (clipped)")
    NO_COUGH = "no_cough", _("no cough was detected")


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", _("Candidate")
    CANARY = "canary", _("Canary")
    PRODUCTION = "production", _("Production")
    ARCHIVED = "archived", _("Archived")


class ModelVersion(models.Model):
    """A trained model: its artifact in storage, what it expects, and how well it did."""

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    artifact = models.CharField(max_length=255, help_text=_("Storage key of the model artifact."))
    sha256 = models.CharField(max_length=64)
    labels = models.JSONField(default=list)
    sample_rate = models.PositiveIntegerField(default=16000)
    clip_seconds = models.FloatField(default=5.0)
    metrics = models.JSONField(default=dict, blank=True)
    trained_on = models.CharField(
        max_length=32,
        default="synthetic",
        help_text=_("'synthetic' for models trained on generated sounds: not for clinical use."),
    )
    status = models.CharField(
        max_length=12, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE
    )
    canary_fraction = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    promoted_at = models.DateTimeField(null=True, blank=True)
    evaluation = models.JSONField(
        default=dict, blank=True,
        help_text=_("Held-out evaluation: AUC interval, operating points, calibration, subgroups."),
    )  # fmt: skip
    comparison = models.JSONField(
        default=dict, blank=True,
        help_text=_("The promotion gate: this version and production on the same evaluation set."),
    )  # fmt: skip

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="unique_model_name_version"),
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="production"),
                name="one_production_model_version",
            ),
            models.CheckConstraint(
                condition=Q(canary_fraction__gte=0) & Q(canary_fraction__lte=1),
                name="canary_fraction_is_a_fraction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def is_synthetic(self) -> bool:
        return self.trained_on == "synthetic"

    def clean(self) -> None:
        if self.status == ModelStatus.CANARY and not 0 < self.canary_fraction <= 1:
            raise ValidationError(
                {"canary_fraction": _("A canary needs a fraction between 0 and 1.")}
            )


class DiagnosticStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    # Imported as training truth (manage.py import_dataset): no analysis was asked for.
    UNANALYSED = "unanalysed", _("Not analysed")


# The order in which waiting diagnostics are analysed: urgent ones first, then the longest waiting.
# The claims read it along ``diagnostic_queue_idx``; ``with_queue_position`` counts in it.
QUEUE_ORDER = ("-urgent", "queued_at", "id")


class DiagnosticQuerySet(models.QuerySet):
    def with_queue_position(self) -> "DiagnosticQuerySet":
        """Annotate ``queue_position``: 1 for the next diagnostic to be analysed, 1 + those ahead
        for the others waiting (all sites: the workers serve one queue), None once not waiting.

        The one definition of the queue position, for pages, the API and live messages alike. Its
        order is the claims' (``QUEUE_ORDER``): urgent ones first, then the longest waiting.
        """
        same_urgency = Q(urgent=OuterRef("urgent"))
        ahead = (
            Diagnostic.objects.filter(status=DiagnosticStatus.QUEUED)
            .filter(
                Q(urgent__gt=OuterRef("urgent"))  # true after false: urgent ahead of routine
                | (same_urgency & Q(queued_at__lt=OuterRef("queued_at")))
                | (same_urgency & Q(queued_at=OuterRef("queued_at"), id__lt=OuterRef("id")))
            )
            .order_by()
            .values("status")
            .annotate(n=Count("id"))
            .values("n")
        )
        return self.annotate(
            queue_position=Case(
                When(
                    status=DiagnosticStatus.QUEUED,
                    then=Coalesce(Subquery(ahead, output_field=IntegerField()), 0) + Value(1),
                ),
                default=None,
                output_field=IntegerField(),
            )
        )


class Diagnostic(models.Model):
    site_path = "patient__site"  # how portal.core.permissions.restrict reaches the site

    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, related_name="diagnostics")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diagnostics")
    status = models.CharField(
        max_length=10, choices=DiagnosticStatus.choices, default=DiagnosticStatus.QUEUED
    )
    label = models.CharField(max_length=16, choices=Label.choices, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    quality_gate = models.CharField(
        max_length=16,
        choices=QualityGate.choices,
        blank=True,
        help_text=_(
            "Set when the recording failed the quality gate: the result shows inconclusive."
        ),
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="diagnostics"
    )
    symptoms = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    embedding = models.BinaryField(
        null=True, blank=True, help_text=_("The model's L2-normalised embedding (float32).")
    )
    task_id = models.CharField(
        max_length=64, blank=True, help_text=_("The task that claimed this diagnostic last.")
    )
    urgent = models.BooleanField(
        default=False, help_text=_("Set by the clinician: analysed ahead of routine recordings.")
    )
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    review_label = models.CharField(max_length=16, choices=Label.choices, blank=True)
    review_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    objects = DiagnosticQuerySet.as_manager()

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "queued_at"]),
            models.Index(fields=["status", "queued_at"]),
            # The waiting diagnostics in the order they are analysed (QUEUE_ORDER): a claim reads
            # the head of it, and a queue position counts what is ahead, without a sort.
            models.Index(
                fields=list(QUEUE_ORDER), condition=Q(status="queued"), name="diagnostic_queue_idx"
            ),
            # The results waiting for review, oldest first: the review queue reads this small
            # part of the table, not every result ever reviewed.
            models.Index(
                fields=["queued_at", "id"],
                condition=Q(status="succeeded", review_label=""),
                name="diagnostic_waiting_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__isnull=True)
                | (Q(confidence__gte=0) & Q(confidence__lte=1)),
                name="confidence_is_a_probability",
            ),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | ~Q(label=""),
                name="succeeded_diagnostic_has_a_label",
            ),
            models.CheckConstraint(
                condition=Q(review_label="") | Q(reviewed_at__isnull=False),
                name="review_has_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Diagnostic #{self.pk} ({self.status})"

    @property
    def is_reviewed(self) -> bool:
        return bool(self.review_label)

    @property
    def label_shown(self) -> str:
        """The headline wherever the result is shown: the reviewer's label, else inconclusive
        for a recording that failed the quality gate, else the model's (kept as it answered)."""
        if self.review_label:
            return self.review_label
        if self.quality_gate and self.label:
            return Label.INCONCLUSIVE
        return self.label

    @property
    def label_shown_differs(self) -> bool:
        """Whether the headline is not the model's own label, so pages add "model said …"."""
        return bool(self.label) and self.label_shown != self.label

    def clean(self) -> None:
        if self.recording_id and self.patient_id and self.recording.patient_id != self.patient_id:
            raise ValidationError(_("A diagnostic belongs to its recording's patient."))


class TrainingStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class TrainingRun(models.Model):
    """One training of the model on a frozen set of reviewed recordings (``diagnostics.training``).

    ``snapshot`` lists, per example, the diagnostic, its recording, the recording's sha256, the
    reviewed label, the patient (the split's group) and the subgroup values, frozen when the run is
    made: the same run reproduced from its snapshot reads the same bytes and, seeded, gives the
    same metrics. No names or free text are in it.
    """

    status = models.CharField(
        max_length=10, choices=TrainingStatus.choices, default=TrainingStatus.QUEUED
    )
    parameters = models.JSONField(default=dict, blank=True)
    snapshot = models.JSONField(default=list, blank=True)
    n_examples = models.PositiveIntegerField(default=0)
    epoch = models.PositiveSmallIntegerField(default=0)
    history = models.JSONField(default=list, blank=True, help_text=_("Metrics after each epoch."))
    metrics = models.JSONField(default=dict, blank=True)
    evaluation = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reproduces = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reproductions"
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="training_runs",
    )  # fmt: skip
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Training run #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (
            TrainingStatus.SUCCEEDED, TrainingStatus.FAILED, TrainingStatus.CANCELLED
        )  # fmt: skip
