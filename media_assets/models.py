"""Recordings: the audio a clinician uploaded, as stored, with what was measured about it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.models import Patient, new_pseudonym


class RecordingKind(models.TextChoices):
    COUGH = "cough", _("Cough")
    BREATH = "breath", _("Breathing")
    SPEECH = "speech", _("Speech")


# The shortest recording accepted per kind, by the page's recorder and by every upload alike
# (the settings' RECORDING_MIN_SECONDS is the floor below which nothing is audio worth decoding):
# enough for three coughs, two or three calm breaths, or a counted sentence.
MIN_SECONDS_BY_KIND = {
    RecordingKind.COUGH: 2,
    RecordingKind.BREATH: 10,
    RecordingKind.SPEECH: 5,
}
# A file's decoded length may fall a little short of what the recorder's clock showed (the
# encoder's first frames), so the upload allows this much less.
MIN_SECONDS_SLACK = 0.25


class RecordingStatus(models.TextChoices):
    PENDING = "pending", _("Pending upload")
    STORED = "stored", _("Stored")
    REJECTED = "rejected", _("Rejected")
    DELETED = "deleted", _("Deleted")
    QUARANTINED = "quarantined", _("Quarantined: stored object missing")


class Recording(models.Model):
    site_path = "patient__site"  # how portal.core.permissions.restrict reaches the site

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="recordings", verbose_name=_("patient")
    )
    kind = models.CharField(max_length=8, choices=RecordingKind.choices, verbose_name=_("kind"))
    status = models.CharField(
        max_length=12,
        choices=RecordingStatus.choices,
        default=RecordingStatus.PENDING,
        verbose_name=_("status"),
    )
    storage_key = models.CharField(max_length=255, unique=True, verbose_name=_("storage key"))
    original_name = models.CharField(
        max_length=255,
        blank=True,
        help_text=_("The uploaded file's extension only (e.g. .wav): a file name is never stored."),
        verbose_name=_("original name"),
    )
    content_type = models.CharField(max_length=100, blank=True, verbose_name=_("content type"))
    size_bytes = models.BigIntegerField(null=True, blank=True, verbose_name=_("size bytes"))
    sha256 = models.CharField(max_length=64, blank=True, verbose_name=_("sha256"))
    duration_s = models.FloatField(null=True, blank=True, verbose_name=_("duration s"))
    sample_rate = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("sample rate"))
    channels = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("channels"))
    quality = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Clipping ratio, silence ratio, loudness (dBFS), cough detector score."),
        verbose_name=_("quality"),
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )
    stored_at = models.DateTimeField(null=True, blank=True, verbose_name=_("stored at"))
    spectrogram_key = models.CharField(
        max_length=255, blank=True, editable=False,
        help_text=_("The log-mel picture, rendered once after the upload (diagnostics.spectrogram)."),
    verbose_name=_("spectrogram key"))  # fmt: skip

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "created_at"]),
            # The home page's count of today's recordings reads today's only.
            models.Index(
                fields=["created_at"], condition=Q(status="stored"), name="recording_stored_idx"
            ),
        ]
        constraints = [
            # The same bytes for the same patient are one recording, however many uploads race.
            models.UniqueConstraint(
                fields=["patient", "sha256"],
                condition=Q(status="stored"),
                name="unique_stored_recording_per_patient",
            ),
            models.CheckConstraint(
                condition=~Q(status="stored") | (Q(size_bytes__isnull=False) & ~Q(sha256="")),
                name="stored_recording_has_size_and_hash",
            ),
        ]
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")

    def __str__(self) -> str:
        return f"Recording #{self.pk} ({self.kind})"

    @property
    def quality_warnings(self) -> list[str]:
        """The measured warnings, and "no_cough" for a cough recording in which none was heard."""
        warnings = list(self.quality.get("warnings", []))
        if self.kind == RecordingKind.COUGH and self.quality.get("cough_detected") is False:
            warnings.append("no_cough")
        return warnings


class RecordingPseudonym(models.Model):
    """A recording's research id: random like the patient's, made on first export, stable after.

    The research export (``portal.research.pseudonyms``) is its only reader and writer.
    """

    recording = models.OneToOneField(
        Recording,
        on_delete=models.CASCADE,
        related_name="research_pseudonym",
        verbose_name=_("recording"),
    )
    value = models.CharField(
        max_length=32, unique=True, default=new_pseudonym, editable=False, verbose_name=_("value")
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )

    class Meta:
        verbose_name = _("recording pseudonym")
        verbose_name_plural = _("recording pseudonyms")

    def __str__(self) -> str:
        return self.value
