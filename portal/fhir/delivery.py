"""Pushing results and reviews into the hospital's record.

When diagnostics commits results or a review (``diagnostics.signals``), and a FHIR server is
configured, a task makes one ``Delivery`` per final result of a patient linked to the record and
delivers each: the Device (model version), the Media (recording) and the model's Observation by
conditional create on the product's identifier (``If-None-Exist``), so a repeated delivery
creates nothing twice; the review's Observation and a reviewed report by conditional update on
the identifier, so a corrected review replaces the earlier one and the report becomes
``amended``. A server that cannot be reached is tried again with an exponential back-off
(``FHIR_RETRY_BASE_S``, doubling, at most ``FHIR_RETRY_MAX_S``) up to ``FHIR_MAX_ATTEMPTS``;
then, or at once when the server refuses the request, the delivery is dead (the admin's
dead-letter list, which can send it again). A push whose message was lost (the broker was
down when the result or review was committed) is found by ``catch_up``, every few minutes.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from diagnostics import signals
from diagnostics.models import Diagnostic, DiagnosticStatus
from portal.core.dispatch import send_quietly
from portal.core.models import AuditEvent
from portal.fhir import codes, resources
from portal.fhir.client import FhirClient, RecordRefused, RecordUnavailable, configured
from portal.fhir.models import Delivery, DeliveryStatus

logger = logging.getLogger("portal.fhir")

PUSH_TASK = "portal.fhir.tasks.push"
DELIVER_TASK = "portal.fhir.tasks.deliver"


def connect_diagnostic_signals() -> None:
    signals.results_recorded.connect(_results_recorded, dispatch_uid="fhir-results")
    signals.diagnostic_reviewed.connect(_diagnostic_reviewed, dispatch_uid="fhir-review")


def _results_recorded(sender, diagnostics, **kwargs) -> None:
    if configured():  # the inference worker goes on at once: the sender thread sends it
        send_quietly(PUSH_TASK, [d.pk for d in diagnostics], "result", wait=False)


def _diagnostic_reviewed(sender, diagnostic, **kwargs) -> None:
    if configured():
        send_quietly(PUSH_TASK, [diagnostic.pk], "review")


def schedule(*, diagnostic_ids: list[int], trigger: str) -> list[Delivery]:
    """A pending delivery for each final result among ``diagnostic_ids`` whose patient is linked
    to the hospital's record (the others have no place there)."""
    linked = (
        Diagnostic.objects.filter(pk__in=diagnostic_ids, status=DiagnosticStatus.SUCCEEDED)
        .exclude(patient__identifier_value="")
        .values_list("pk", flat=True)
    )
    return Delivery.objects.bulk_create(
        Delivery(diagnostic_id=pk, trigger=trigger) for pk in sorted(linked)
    )


def catch_up() -> list[Delivery]:
    """Deliveries for the results and reviews of the last ``FHIR_CATCH_UP_HOURS`` that have
    none made since they were committed (their message was lost), older than
    ``FHIR_CATCH_UP_GRACE_S`` (younger ones may still be on their way); and pending deliveries
    whose task was lost.

    Both reads are bounded by indexes: results by (status, queued_at), reviews by the audit
    log's (action, at), not by scanning every diagnostic for its review time.
    """
    if not configured():
        return []
    now = timezone.now()
    since = now - timedelta(hours=settings.FHIR_CATCH_UP_HOURS)
    before = now - timedelta(seconds=settings.FHIR_CATCH_UP_GRACE_S)
    linked = Diagnostic.objects.filter(status=DiagnosticStatus.SUCCEEDED).exclude(
        patient__identifier_value=""
    )
    results = linked.filter(
        queued_at__gte=since, finished_at__range=(since, before)
    ).exclude(Exists(Delivery.objects.filter(
        diagnostic=OuterRef("pk"), created_at__gte=OuterRef("finished_at")
    )))  # fmt: skip
    reviewed = AuditEvent.objects.filter(
        action="diagnostic.reviewed", at__range=(since, before)
    ).values_list("object_id", flat=True)
    reviews = linked.filter(
        pk__in=[int(pk) for pk in reviewed], reviewed_at__lte=before
    ).exclude(Exists(Delivery.objects.filter(
        diagnostic=OuterRef("pk"), created_at__gte=OuterRef("reviewed_at")
    )))  # fmt: skip
    missed = schedule(diagnostic_ids=list(results.values_list("pk", flat=True)), trigger="result")
    missed += schedule(diagnostic_ids=list(reviews.values_list("pk", flat=True)), trigger="review")
    missed += _stalled(now)
    if missed:
        logger.warning("fhir pushes caught up", extra={"deliveries": len(missed)})
    return missed


def _stalled(now) -> list[Delivery]:
    """Pending deliveries nobody has tried for longer than the longest back-off (their task was
    lost with its message), touched so that the next run does not send them again at once."""
    stale = now - timedelta(seconds=settings.FHIR_RETRY_MAX_S + settings.FHIR_CATCH_UP_GRACE_S)
    stalled = list(Delivery.objects.filter(status=DeliveryStatus.PENDING, updated_at__lt=stale))
    Delivery.objects.filter(pk__in=[d.pk for d in stalled]).update(updated_at=now)
    return stalled


def backoff(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from ``FHIR_RETRY_BASE_S``."""
    return min(settings.FHIR_RETRY_MAX_S, settings.FHIR_RETRY_BASE_S * 2 ** max(0, attempts - 1))


def attempt(delivery_id: int) -> float | None:
    """Try one pending delivery; the seconds to wait before trying again, or None when it is
    settled (delivered, skipped, dead, or not pending any more)."""
    delivery = (
        Delivery.objects.select_related(
            "diagnostic__patient", "diagnostic__recording", "diagnostic__model_version",
            "diagnostic__reviewed_by",
        )
        .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .first()
    )  # fmt: skip
    if delivery is None:
        return None
    if not delivery.diagnostic.patient.is_linked:  # unlinked since it was scheduled
        _settle(delivery, DeliveryStatus.SKIPPED)
        return None
    delivery.attempts += 1
    try:
        report = push(delivery.diagnostic, FhirClient())
    except RecordUnavailable as exc:
        if delivery.attempts >= settings.FHIR_MAX_ATTEMPTS:
            _settle(delivery, DeliveryStatus.DEAD, error=exc.code)
            return None
        _settle(delivery, DeliveryStatus.PENDING, error=exc.code)
        return backoff(delivery.attempts)
    except (RecordRefused, resources.InvalidResource) as exc:
        _settle(delivery, DeliveryStatus.DEAD, error=str(exc)[:200])
        return None
    delivery.report_id = report.get("id", "")
    delivery.report_status = report.get("status", "") or resources.report_status(
        delivery.diagnostic
    )
    delivery.delivered_at = timezone.now()
    _settle(delivery, DeliveryStatus.DELIVERED)
    return None


def _settle(delivery: Delivery, status: str, *, error: str = "") -> None:
    delivery.status = status
    delivery.last_error = error
    delivery.save()
    log = logger.warning if status == DeliveryStatus.DEAD else logger.info
    log(
        "fhir delivery",
        extra={"delivery": delivery.pk, "diagnostic": delivery.diagnostic_id, "status": status,
               "attempts": delivery.attempts, "error": error},
    )  # fmt: skip


def _reference(resource: dict) -> dict:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def _token(resource: dict) -> str:
    return codes.token(resource["identifier"][0])


def push(diagnostic: Diagnostic, client: FhirClient) -> dict:
    """Send one diagnostic's report and what it refers to; the report as the server keeps it."""
    identifier = resources.hospital_identifier(diagnostic.patient)
    refs = resources.Refs(subject={"identifier": identifier})
    found = client.search("Patient", {"identifier": codes.token(identifier), "_count": 2})
    if len(found) == 1:  # a literal reference where the record has exactly one such patient
        refs.subject["reference"] = f"Patient/{found[0]['id']}"

    def once(resource: dict) -> dict:
        return _reference(client.create_once(resource, _token(resource)))

    refs.device = once(resources.device_resource(diagnostic.model_version))
    refs.media = once(resources.media_resource(diagnostic.recording, refs))
    refs.result = once(resources.result_observation(diagnostic, refs))
    if not diagnostic.review_label:
        report = resources.diagnostic_report(diagnostic, refs)
        return client.create_once(report, _token(report))
    review = resources.review_observation(diagnostic, refs)
    refs.review = _reference(client.put_by_identifier(review, _token(review)))
    report = resources.diagnostic_report(diagnostic, refs)
    return client.put_by_identifier(report, _token(report))


def send_again(deliveries) -> int:
    """Put dead deliveries back in the queue (the admin's retry); how many were."""
    dead = [d.pk for d in deliveries if d.status == DeliveryStatus.DEAD]
    with transaction.atomic():
        Delivery.objects.filter(pk__in=dead).update(
            status=DeliveryStatus.PENDING, attempts=0, last_error="", updated_at=timezone.now()
        )
        transaction.on_commit(lambda: [send_quietly(DELIVER_TASK, pk) for pk in dead])
    return len(dead)
