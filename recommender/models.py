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

    diagnostic = models.ForeignKey(
        Diagnostic,
        on_delete=models.CASCADE,
        related_name="embeddings",
        verbose_name=_("diagnostic"),
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="+", verbose_name=_("model version")
    )
    vector = models.BinaryField(
        help_text=_("L2-normalised float32 vector."), verbose_name=_("vector")
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["diagnostic", "model_version"], name="one_embedding_per_model_version"
            )
        ]
        # The live index reads "this version's rows after id N" every few seconds.
        indexes = [models.Index(fields=["model_version", "id"], name="embedding_version_id")]
        verbose_name = _("case embedding")
        verbose_name_plural = _("case embeddings")

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
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="case_interactions",
        verbose_name=_("user"),
    )
    diagnostic = models.ForeignKey(
        Diagnostic,
        on_delete=models.CASCADE,
        related_name="interactions",
        verbose_name=_("diagnostic"),
    )
    source = models.ForeignKey(
        Diagnostic,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The case the user was looking at when this one was viewed or marked."),
        verbose_name=_("source"),
    )
    kind = models.CharField(max_length=16, choices=InteractionKind.choices, verbose_name=_("kind"))
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["diagnostic", "kind"]),
            models.Index(fields=["user", "at"]),
            models.Index(fields=["source", "kind"], name="interaction_source_kind"),
        ]
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")

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

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="+", verbose_name=_("model version")
    )
    kind = models.CharField(max_length=8, choices=IndexKind.choices, verbose_name=_("kind"))
    count = models.PositiveIntegerField(verbose_name=_("count"))
    high_water = models.BigIntegerField(default=0, verbose_name=_("high water"))
    index_key = models.CharField(max_length=255, verbose_name=_("index key"))
    mapping_key = models.CharField(max_length=255, verbose_name=_("mapping key"))
    meta_key = models.CharField(max_length=255, verbose_name=_("meta key"))
    built_at = models.DateTimeField(default=timezone.now, verbose_name=_("built at"))
    build_seconds = models.FloatField(default=0.0, verbose_name=_("build seconds"))
    reason = models.CharField(max_length=32, blank=True, verbose_name=_("reason"))

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"
        verbose_name = _("index build")
        verbose_name_plural = _("index builds")

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
        Diagnostic,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="review_priority",
        verbose_name=_("diagnostic"),
    )
    uncertainty = models.FloatField(verbose_name=_("uncertainty"))
    disagreement = models.FloatField(
        null=True,
        blank=True,
        help_text=_("Share of similar reviewed cases whose label differs."),
        verbose_name=_("disagreement"),
    )
    neighbours = models.PositiveSmallIntegerField(default=0, verbose_name=_("neighbours"))
    neighbour_labels = models.JSONField(
        default=dict, blank=True, verbose_name=_("neighbour labels")
    )
    base_score = models.FloatField(verbose_name=_("base score"))
    rank_key = models.FloatField(db_index=True, verbose_name=_("rank key"))
    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("model version"),
    )
    computed_at = models.DateTimeField(default=timezone.now, verbose_name=_("computed at"))

    class Meta:
        verbose_name_plural = "review priorities"
        verbose_name = _("review priority")

    def __str__(self) -> str:
        return f"Priority of diagnostic #{self.diagnostic_id}"


class RecommenderEvaluation(models.Model):
    """Leave-one-out precision@k and coverage of the rankings, side by side."""

    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )
    data = models.CharField(
        max_length=16,
        choices=[("reviewed", _("Reviewed diagnostics")), ("synthetic", _("SYNTHETIC cases"))],
        verbose_name=_("data"),
    )
    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("model version"),
    )
    k = models.PositiveSmallIntegerField(verbose_name=_("k"))
    cases = models.PositiveIntegerField(verbose_name=_("cases"))
    queries = models.PositiveIntegerField(verbose_name=_("queries"))
    results = models.JSONField(default=dict, verbose_name=_("results"))
    parameters = models.JSONField(default=dict, blank=True, verbose_name=_("parameters"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("recommender evaluation")
        verbose_name_plural = _("recommender evaluations")

    def __str__(self) -> str:
        return f"Evaluation #{self.pk} ({self.data}, k={self.k})"
