"""What the recommender learns from: case embeddings and clinicians' interactions with cases."""

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
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.diagnostic_id}"
