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
    # Analyses live uploads beside production; its results are stored apart (ShadowResult) and
    # never shown.
    SHADOW = "shadow", _("Shadow")
    PRODUCTION = "production", _("Production")
    ARCHIVED = "archived", _("Archived")


class ModelVersion(models.Model):
    """A trained model: its artifact in storage, what it expects, and how well it did."""

    name = models.CharField(max_length=100, verbose_name=_("name"))
    version = models.CharField(max_length=50, verbose_name=_("version"))
    artifact = models.CharField(
        max_length=255,
        help_text=_("Storage key of the model artifact."),
        verbose_name=_("artifact"),
    )
    sha256 = models.CharField(max_length=64, verbose_name=_("sha256"))
    labels = models.JSONField(default=list, verbose_name=_("labels"))
    sample_rate = models.PositiveIntegerField(default=16000, verbose_name=_("sample rate"))
    clip_seconds = models.FloatField(default=5.0, verbose_name=_("clip seconds"))
    metrics = models.JSONField(default=dict, blank=True, verbose_name=_("metrics"))
    trained_on = models.CharField(
        max_length=32,
        default="synthetic",
        help_text=_("'synthetic' for models trained on generated sounds: not for clinical use."),
        verbose_name=_("trained on"),
    )
    status = models.CharField(
        max_length=12,
        choices=ModelStatus.choices,
        default=ModelStatus.CANDIDATE,
        verbose_name=_("status"),
    )
    canary_fraction = models.FloatField(
        default=0.0,
        verbose_name=_("canary fraction"),
        help_text=_("The share of new diagnostics a canary or shadow analyses."),
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )
    promoted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("promoted at"))
    features = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("The log-mel front end's settings (from the artifact)."),
        verbose_name=_("features"),
    )
    clinically_validated = models.BooleanField(
        default=False,
        help_text=_(
            "Set by an administrator once the model has been validated for clinical use. Until "
            "then every result says: research use only, not a medical device."
        ),
        verbose_name=_("clinically validated"),
    )
    input_reference = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "What its training inputs looked like (duration, loudness, the embedding's mean): "
            "the reference input drift is measured against."
        ),
        verbose_name=_("input reference"),
    )
    canary_started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When its current canary or shadow period began."),
        verbose_name=_("canary started at"),
    )
    rolled_back_at = models.DateTimeField(null=True, blank=True, verbose_name=_("rolled back at"))
    rollback_reasons = models.JSONField(
        default=list, blank=True, verbose_name=_("rollback reasons")
    )
    evaluation = models.JSONField(
        default=dict, blank=True,
        help_text=_("Held-out evaluation: AUC interval, operating points, calibration, subgroups."),
    verbose_name=_("evaluation"))  # fmt: skip
    comparison = models.JSONField(
        default=dict, blank=True,
        help_text=_("The promotion gate: this version and production on the same evaluation set."),
    verbose_name=_("comparison"))  # fmt: skip

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
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def is_synthetic(self) -> bool:
        return self.trained_on == "synthetic"

    @property
    def research_use_only(self) -> bool:
        """Every result of a model not validated for clinical use says so."""
        return not self.clinically_validated

    def provenance(self) -> dict:
        """What produced a result, as the API and the result page give it."""
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "trained_on": self.trained_on,
            "synthetic": self.is_synthetic,
            "clinically_validated": self.clinically_validated,
            "features": self.features,
            "clip_seconds": self.clip_seconds,
        }

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

        The queue position for pages, the API and live messages alike, counted in the claims'
        order (``waiting_ahead_of``). ``queue_position_of`` gives one diagnostic's.
        """
        ahead = (
            Diagnostic.objects.waiting_ahead_of(
                OuterRef("urgent"), OuterRef("queued_at"), OuterRef("id")
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

    def queue_position_of(self, diagnostic: "Diagnostic") -> int | None:
        """``with_queue_position`` for one diagnostic in the state the object holds, by a plain
        count: a third of the annotated read's CPU (0.75 ms against 1.8), and one of these runs
        for every upload (its "queued" message) and every read that shows one waiting diagnostic
        (several are annotated in one query: ``live.annotate_queue_positions``)."""
        if diagnostic.status != DiagnosticStatus.QUEUED:
            return None
        ahead = Diagnostic.objects.waiting_ahead_of(
            diagnostic.urgent, diagnostic.queued_at, diagnostic.pk
        )
        return ahead.count() + 1  # the whole queue (all sites), whatever ``self`` holds

    def waiting_ahead_of(self, urgent, queued_at, pk) -> "DiagnosticQuerySet":
        """The waiting diagnostics a worker claims before the one with these values (values or
        ``OuterRef``s), in ``QUEUE_ORDER``: urgent ones first, then the longest waiting."""
        same_urgency = Q(urgent=urgent)
        return self.filter(status=DiagnosticStatus.QUEUED).filter(
            Q(urgent__gt=urgent)  # true after false: urgent ahead of routine
            | (same_urgency & Q(queued_at__lt=queued_at))
            | (same_urgency & Q(queued_at=queued_at, id__lt=pk))
        )


class Diagnostic(models.Model):
    site_path = "patient__site"  # how portal.core.permissions.restrict reaches the site

    recording = models.ForeignKey(
        Recording, on_delete=models.PROTECT, related_name="diagnostics", verbose_name=_("recording")
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="diagnostics", verbose_name=_("patient")
    )
    status = models.CharField(
        max_length=10,
        choices=DiagnosticStatus.choices,
        default=DiagnosticStatus.QUEUED,
        verbose_name=_("status"),
    )
    label = models.CharField(
        max_length=16, choices=Label.choices, blank=True, verbose_name=_("label")
    )
    confidence = models.FloatField(null=True, blank=True, verbose_name=_("confidence"))
    scores = models.JSONField(default=dict, blank=True, verbose_name=_("scores"))
    quality_gate = models.CharField(
        max_length=16,
        choices=QualityGate.choices,
        blank=True,
        help_text=_(
            "Set when the recording failed the quality gate: the result shows inconclusive."
        ),
        verbose_name=_("quality gate"),
    )
    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="diagnostics",
        verbose_name=_("model version"),
    )
    symptoms = models.JSONField(default=dict, blank=True, verbose_name=_("symptoms"))
    timings = models.JSONField(default=dict, blank=True, verbose_name=_("timings"))
    embedding = models.BinaryField(
        null=True,
        blank=True,
        help_text=_("The model's L2-normalised embedding (float32)."),
        verbose_name=_("embedding"),
    )
    task_id = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("The task that claimed this diagnostic last."),
        verbose_name=_("task id"),
    )
    urgent = models.BooleanField(
        default=False,
        help_text=_("Set by the clinician: analysed ahead of routine recordings."),
        verbose_name=_("urgent"),
    )
    queued_at = models.DateTimeField(default=timezone.now, verbose_name=_("queued at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    review_label = models.CharField(
        max_length=16, choices=Label.choices, blank=True, verbose_name=_("review label")
    )
    review_note = models.TextField(blank=True, verbose_name=_("review note"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reviewed at"))
    # The review is a public data set's label (diagnostics.reviews.record_dataset_label): no
    # clinician decided it, and the pages say so instead of naming a reviewer. A default in the
    # database too: the previous release's processes insert rows without it during a release.
    review_imported = models.BooleanField(
        default=False, db_default=False, verbose_name=_("label imported from a data set")
    )

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
            # A model version's results of one day: what the daily agreement and input rows
            # are computed from, and the canary's comparison reads.
            models.Index(fields=["model_version", "finished_at"], name="diagnostic_model_day_idx"),
            # Finished results newest first: the home page's results of today and its chart read
            # the newest ones, not every result of every day of the sites in view.
            models.Index(
                fields=["-finished_at", "-id"],
                condition=Q(status="succeeded"),
                name="diagnostic_finished_idx",
            ),
            # Recent reviews: the days whose agreement rows a review changed.
            models.Index(
                fields=["reviewed_at"],
                condition=~Q(review_label=""),
                name="diagnostic_reviewed_idx",
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
        verbose_name = _("diagnostic")
        verbose_name_plural = _("diagnostics")

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


class ShadowResult(models.Model):
    """A shadow model's answer about a live upload: stored apart from the diagnostic, so no page,
    API or live message can show it; read only by the comparison with production."""

    site_path = "diagnostic__patient__site"

    diagnostic = models.ForeignKey(
        Diagnostic, on_delete=models.CASCADE, related_name="+", verbose_name=_("diagnostic")
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="+", verbose_name=_("model version")
    )
    status = models.CharField(
        max_length=10, choices=DiagnosticStatus.choices, verbose_name=_("status")
    )
    label = models.CharField(
        max_length=16, choices=Label.choices, blank=True, verbose_name=_("label")
    )
    confidence = models.FloatField(null=True, blank=True, verbose_name=_("confidence"))
    quality_gate = models.CharField(
        max_length=16, choices=QualityGate.choices, blank=True, verbose_name=_("quality gate")
    )
    error = models.CharField(max_length=64, blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "diagnostic"], name="one_shadow_result_per_version"
            )
        ]
        indexes = [models.Index(fields=["model_version", "created_at"])]

    def __str__(self) -> str:
        return f"Shadow result of {self.model_version_id} for #{self.diagnostic_id}"


class DailyAgreement(models.Model):
    """How many results of one model version, at one site, analysed on one day, were given each
    review label for each answer of the model: the confusion matrix, pre-aggregated, so agreement
    over months reads a few thousand rows, not millions of diagnostics. Recomputed, never
    incremented (``diagnostics.agreement``): refreshing a day twice gives the same rows."""

    site_path = "site"

    day = models.DateField(verbose_name=_("day"))
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="+", verbose_name=_("model version")
    )
    site = models.ForeignKey(
        "portal.Site", on_delete=models.CASCADE, related_name="+", verbose_name=_("site")
    )
    model_label = models.CharField(
        max_length=16, choices=Label.choices, verbose_name=_("model label")
    )
    review_label = models.CharField(
        max_length=16, choices=Label.choices, verbose_name=_("review label")
    )
    count = models.PositiveIntegerField(verbose_name=_("count"))

    class Meta:
        verbose_name = _("agreement with reviews")
        verbose_name_plural = _("agreement with reviews")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "model_version", "site", "model_label", "review_label"],
                name="one_daily_agreement_cell",
            )
        ]
        indexes = [models.Index(fields=["model_version", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.model_label}/{self.review_label}: {self.count}"


class DailyInputStats(models.Model):
    """Sums over one day's analysed recordings of one model version at one site (durations,
    loudness, embeddings), from which input drift over any window is a division."""

    site_path = "site"

    day = models.DateField(verbose_name=_("day"))
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="+", verbose_name=_("model version")
    )
    site = models.ForeignKey(
        "portal.Site", on_delete=models.CASCADE, related_name="+", verbose_name=_("site")
    )
    count = models.PositiveIntegerField(verbose_name=_("count"))
    duration_sum = models.FloatField(verbose_name=_("duration sum"))
    duration_sq_sum = models.FloatField(verbose_name=_("duration sum of squares"))
    loudness_count = models.PositiveIntegerField(verbose_name=_("loudness count"))
    loudness_sum = models.FloatField(verbose_name=_("loudness sum"))
    loudness_sq_sum = models.FloatField(verbose_name=_("loudness sum of squares"))
    embedding_count = models.PositiveIntegerField(verbose_name=_("embedding count"))
    embedding_sum = models.JSONField(default=list, verbose_name=_("embedding sum"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "model_version", "site"], name="one_daily_input_row"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model_version_id}/{self.site_id}: {self.count}"


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
        max_length=10,
        choices=TrainingStatus.choices,
        default=TrainingStatus.QUEUED,
        verbose_name=_("status"),
    )
    parameters = models.JSONField(default=dict, blank=True, verbose_name=_("parameters"))
    snapshot = models.JSONField(default=list, blank=True, verbose_name=_("snapshot"))
    n_examples = models.PositiveIntegerField(default=0, verbose_name=_("examples"))
    epoch = models.PositiveSmallIntegerField(default=0, verbose_name=_("epoch"))
    history = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Metrics after each epoch."),
        verbose_name=_("history"),
    )
    metrics = models.JSONField(default=dict, blank=True, verbose_name=_("metrics"))
    evaluation = models.JSONField(default=dict, blank=True, verbose_name=_("evaluation"))
    log = models.TextField(blank=True, verbose_name=_("log"))
    cancel_requested = models.BooleanField(default=False, verbose_name=_("cancel requested"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    reproduces = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reproductions",
        verbose_name=_("reproduces"),
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="training_runs",
    verbose_name=_("model version"))  # fmt: skip
    task_id = models.CharField(max_length=64, blank=True, verbose_name=_("task id"))
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Training run #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (
            TrainingStatus.SUCCEEDED, TrainingStatus.FAILED, TrainingStatus.CANCELLED
        )  # fmt: skip
