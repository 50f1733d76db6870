"""What the recommender learns from and what it keeps: case embeddings, clinicians' interactions
with cases, the index builds that web processes load, the stored review priorities, and the
results of offline evaluations."""

import numpy as np
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from diagnostics.models import Diagnostic, ModelVersion


class CaseEmbedding(models.Model):
    """A diagnostic's embedding from one model version (vectors of different versions differ)."""

    diagnostic = models.ForeignKey(Diagnostic, on_delete=models.CASCADE, related_name="embeddings")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    vector = models.BinaryField(help_text=_("L2-normalised float32 vector."))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["diagnostic", "model_version"], name="one_embedding_per_model_version"
            )
        ]
        # The live index reads "this version's rows after id N" every few seconds.
        indexes = [models.Index(fields=["model_version", "id"], name="embedding_version_id")]

    def __str__(self) -> str:
        return f"Embedding of diagnostic #{self.diagnostic_id}"

    def as_array(self) -> np.ndarray:
        return np.frombuffer(bytes(self.vector), dtype=np.float32)


class InteractionKind(models.TextChoices):
    VIEWED = "viewed", _("Viewed")
    MARKED_SIMILAR = "marked_similar", _("Marked similar")
    DISMISSED = "dismissed", _("Dismissed as not similar")


class Interaction(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="case_interactions"
    )
    diagnostic = models.ForeignKey(
        Diagnostic, on_delete=models.CASCADE, related_name="interactions"
    )
    source = models.ForeignKey(
        Diagnostic,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The case the user was looking at when this one was viewed or marked."),
    )
    kind = models.CharField(max_length=16, choices=InteractionKind.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["diagnostic", "kind"]),
            models.Index(fields=["user", "at"]),
            models.Index(fields=["source", "kind"], name="interaction_source_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.diagnostic_id}"


class IndexKind(models.TextChoices):
    FLAT = "flat", _("Exact (flat inner product)")
    IVF = "ivf", _("Approximate (IVF, inner product)")
    HNSW = "hnsw", _("Approximate (HNSW, inner product)")


class IndexBuild(models.Model):
    """One persisted similar-case index: the newest row is the live one.

    The files live in default storage; this row is how every process learns that a newer index
    exists (a cheap query every ``RECOMMENDER_INDEX_CHECK_S`` seconds). An index covers one model
    version and every embedding of it up to ``high_water`` (a ``CaseEmbedding`` id); rows after
    that are the live delta that processes add on top without a rebuild.
    """

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=IndexKind.choices)
    count = models.PositiveIntegerField()
    high_water = models.BigIntegerField(default=0)
    index_key = models.CharField(max_length=255)
    mapping_key = models.CharField(max_length=255)
    meta_key = models.CharField(max_length=255)
    built_at = models.DateTimeField(default=timezone.now)
    build_seconds = models.FloatField(default=0.0)
    reason = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"

    def __str__(self) -> str:
        return f"Index #{self.pk} ({self.count} cases, {self.kind})"


class ReviewPriority(models.Model):
    """How much a clinician's review of a waiting diagnostic would teach the model.

    Stored by a job (after indexing, and periodically as reviews accumulate), so the review queue
    orders by one indexed column instead of searching the index per row per page view.
    ``rank_key`` folds the waiting time in without going stale: with a linear age term,
    ``base + w_age * (now - queued_at) / scale`` orders exactly like
    ``base - w_age * queued_at / scale``, whatever ``now`` is.
    """

    diagnostic = models.OneToOneField(
        Diagnostic, on_delete=models.CASCADE, primary_key=True, related_name="review_priority"
    )
    uncertainty = models.FloatField()
    disagreement = models.FloatField(
        null=True, blank=True, help_text=_("Share of similar reviewed cases whose label differs.")
    )
    neighbours = models.PositiveSmallIntegerField(default=0)
    neighbour_labels = models.JSONField(default=dict, blank=True)
    base_score = models.FloatField()
    rank_key = models.FloatField(db_index=True)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "review priorities"

    def __str__(self) -> str:
        return f"Priority of diagnostic #{self.diagnostic_id}"


class RecommenderEvaluation(models.Model):
    """Leave-one-out precision@k and coverage of the rankings, side by side."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    data = models.CharField(
        max_length=16,
        choices=[("reviewed", _("Reviewed diagnostics")), ("synthetic", _("SYNTHETIC cases"))],
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    k = models.PositiveSmallIntegerField()
    cases = models.PositiveIntegerField()
    queries = models.PositiveIntegerField()
    results = models.JSONField(default=dict)
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Evaluation #{self.pk} ({self.data}, k={self.k})"
