"""Deliveries of results and reviews to the hospital's FHIR server, kept until delivered: the
work of the delivery task, and the dead-letter list (``dead``) the admin retries from."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from diagnostics.models import Diagnostic


class Trigger(models.TextChoices):
    RESULT = "result", _("Result")
    REVIEW = "review", _("Review")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    DEAD = "dead", _("Gave up (dead letter)")
    SKIPPED = "skipped", _("Skipped: patient not linked to the record")


class Delivery(models.Model):
    """One push of a diagnostic's report. Its resources are built when it is sent, from the
    diagnostic as it is then, so a late or repeated delivery never sends stale content."""

    site_path = "diagnostic__patient__site"  # how portal.core.permissions.restrict reaches the site

    diagnostic = models.ForeignKey(
        Diagnostic,
        on_delete=models.CASCADE,
        related_name="fhir_deliveries",
        verbose_name=_("diagnostic"),
    )
    trigger = models.CharField(max_length=8, choices=Trigger.choices, verbose_name=_("trigger"))
    status = models.CharField(
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        verbose_name=_("status"),
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.CharField(
        max_length=200,
        blank=True,
        help_text=_("Why the last attempt failed (no patient data)."),
        verbose_name=_("last error"),
    )
    report_status = models.CharField(
        max_length=10,
        blank=True,
        help_text=_("The report status last sent: final or amended."),
        verbose_name=_("report status"),
    )
    report_id = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("The report's id on the hospital's FHIR server."),
        verbose_name=_("report id"),
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("FHIR delivery")
        verbose_name_plural = _("FHIR deliveries")
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self) -> str:
        return f"FHIR delivery #{self.pk} ({self.trigger} of diagnostic #{self.diagnostic_id})"
