"""Results and reviews pushed into the hospital's record: valid FHIR R4 resources, created once
however often delivered, the report amended by a corrected review, and dead letters after the
server refused or stayed away."""

import pytest
from fhir.resources.R4B import get_fhir_model_class

from diagnostics.reviews import Decision, review_diagnostic
from portal.fhir import codes, delivery
from portal.fhir.models import Delivery, DeliveryStatus, Trigger
from tests.factories import PatientFactory, UserFactory
from tests.factories_clinical import RecordingFactory, succeeded
from tests.fhir.conftest import record_patient

pytestmark = pytest.mark.django_db


def _result(patient, **kwargs):
    return succeeded(label="anomaly", confidence=0.87,
                     recording=RecordingFactory(patient=patient), **kwargs)  # fmt: skip


def _deliver(diagnostic, trigger=Trigger.RESULT):
    (scheduled,) = delivery.schedule(diagnostic_ids=[diagnostic.pk], trigger=trigger)
    assert delivery.attempt(scheduled.pk) is None
    scheduled.refresh_from_db()
    return scheduled


def _valid(resource):
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def _held(server):
    return {
        kind: len(server.all(kind))
        for kind in ("DiagnosticReport", "Observation", "Device", "Media")
    }


def _codes(concept):
    return [(c["system"], c["code"]) for c in concept["coding"]]


def test_a_result_and_its_review_are_delivered_as_valid_fhir_resources(fhir_server, linked_patient):
    hospital_patient = record_patient(fhir_server)
    diagnostic = _result(linked_patient)

    sent = _deliver(diagnostic)

    assert sent.status == DeliveryStatus.DELIVERED and sent.report_status == "final"
    (report,) = fhir_server.all("DiagnosticReport")
    (finding,) = fhir_server.all("Observation")
    (device,) = fhir_server.all("Device")
    (media,) = fhir_server.all("Media")
    for resource in (report, finding, device, media):
        _valid(resource)
    assert report["status"] == "final"
    assert report["subject"]["reference"] == f"Patient/{hospital_patient['id']}"
    assert report["subject"]["identifier"]["value"] == "MRN-4711"
    assert report["result"] == [{"reference": f"Observation/{finding['id']}"}]
    assert report["media"][0]["link"] == {"reference": f"Media/{media['id']}"}
    assert _codes(finding["valueCodeableConcept"]) == [(codes.FINDING, "anomaly")]
    assert finding["component"][0]["valueQuantity"]["value"] == 0.87
    assert finding["device"] == {"reference": f"Device/{device['id']}"}
    version = diagnostic.model_version
    assert device["version"] == [{"value": version.version}]
    assert version.artifact in device["property"][0]["valueCode"][0]["text"]

    reviewer = UserFactory(username="dr-review", first_name="Mara", last_name="Lind")
    review_diagnostic(
        diagnostic=diagnostic, actor=reviewer, decision=Decision.CONFIRM, note="clear"
    )
    _deliver(diagnostic, Trigger.REVIEW)

    (report,) = fhir_server.all("DiagnosticReport")
    review = next(
        o for o in fhir_server.all("Observation") if _codes(o["code"])[0][1] == "review-decision"
    )
    _valid(report), _valid(review)
    assert report["status"] == "final"  # confirmed: nothing was changed
    assert report["result"][1] == {"reference": f"Observation/{review['id']}"}
    assert review["performer"][0]["display"] == "Mara Lind"
    assert _codes(review["valueCodeableConcept"]) == [(codes.FINDING, "anomaly")]


def test_a_result_delivered_twice_is_not_duplicated(fhir_server, linked_patient):
    diagnostic = _result(linked_patient)
    _deliver(diagnostic)
    first = _held(fhir_server)

    _deliver(diagnostic)
    # Another result of the same model: the same Device, a new report.
    _deliver(_result(linked_patient, model_version=diagnostic.model_version))

    assert first == {"DiagnosticReport": 1, "Observation": 1, "Device": 1, "Media": 1}
    assert _held(fhir_server) == {"DiagnosticReport": 2, "Observation": 2, "Device": 1, "Media": 2}


def test_a_corrected_review_sends_an_amended_report_in_place_of_the_first(
    fhir_server, linked_patient
):
    diagnostic = _result(linked_patient)
    reviewer = UserFactory(username="dr-review")
    _deliver(diagnostic)
    review_diagnostic(diagnostic=diagnostic, actor=reviewer, decision=Decision.CONFIRM)
    _deliver(diagnostic, Trigger.REVIEW)
    (before,) = fhir_server.all("DiagnosticReport")
    version = before["meta"]["versionId"]

    review_diagnostic(
        diagnostic=diagnostic, actor=reviewer, decision=Decision.CORRECT, label="healthy"
    )
    sent = _deliver(diagnostic, Trigger.REVIEW)

    (after,) = fhir_server.all("DiagnosticReport")
    assert after["id"] == before["id"] and int(after["meta"]["versionId"]) > int(version)
    assert after["status"] == "amended" and sent.report_status == "amended"
    assert _codes(after["conclusionCode"][0]) == [(codes.FINDING, "healthy")]
    reviews = [
        o for o in fhir_server.all("Observation") if _codes(o["code"])[0][1] == "review-decision"
    ]
    assert len(reviews) == 1 and _codes(reviews[0]["valueCodeableConcept"])[0][1] == "healthy"
    # The search a receiving system would do: one report by the product's identifier.
    token = codes.token(after["identifier"][0])
    assert [r["id"] for r in fhir_server.search("DiagnosticReport", {"identifier": token})] == [
        after["id"]
    ]


def test_a_patient_not_linked_to_the_record_is_never_pushed(fhir_server, site):
    diagnostic = _result(PatientFactory(site=site))

    assert delivery.schedule(diagnostic_ids=[diagnostic.pk], trigger=Trigger.RESULT) == []
    assert fhir_server.requests == []


def test_a_server_that_stays_away_makes_a_dead_letter_that_the_admin_sends_again(
    fhir_server, linked_patient, settings
):
    settings.FHIR_MAX_ATTEMPTS = 2
    diagnostic = _result(linked_patient)
    fhir_server.stop()
    (scheduled,) = delivery.schedule(diagnostic_ids=[diagnostic.pk], trigger=Trigger.RESULT)

    waits = [delivery.attempt(scheduled.pk), delivery.attempt(scheduled.pk)]

    scheduled.refresh_from_db()
    assert waits == [settings.FHIR_RETRY_BASE_S, None]
    assert (scheduled.status, scheduled.attempts, scheduled.last_error) == (
        DeliveryStatus.DEAD,
        2,
        "record_unavailable",
    )

    fhir_server.start()
    assert delivery.send_again(Delivery.objects.all()) == 1
    assert delivery.attempt(scheduled.pk) is None
    scheduled.refresh_from_db()
    assert scheduled.status == DeliveryStatus.DELIVERED
    assert len(fhir_server.all("DiagnosticReport")) == 1


def test_a_refused_request_is_a_dead_letter_at_once(fhir_server, linked_patient, settings):
    fhir_server.token = "expected"  # the product sends none: 401
    diagnostic = _result(linked_patient)

    sent = _deliver(diagnostic)

    assert (sent.status, sent.attempts) == (DeliveryStatus.DEAD, 1)
    assert "401" in sent.last_error


def test_client_credentials_fetch_a_token_for_the_pushes(fhir_server, linked_patient, settings):
    fhir_server.token, fhir_server.client = "issued-token", ("portal", "s3cret")
    settings.FHIR_TOKEN_URL = f"{fhir_server.url}/token"
    settings.FHIR_CLIENT_ID, settings.FHIR_CLIENT_SECRET = "portal", "s3cret"

    sent = _deliver(_result(linked_patient))

    assert sent.status == DeliveryStatus.DELIVERED
    assert ("POST", "/fhir/token") in fhir_server.requests


def test_pushes_whose_message_was_lost_are_caught_up_once(fhir_server, linked_patient, settings):
    settings.FHIR_CATCH_UP_GRACE_S = 0
    result = _result(linked_patient)  # committed, but no push was sent (the broker was down)
    reviewed = _result(linked_patient)
    _deliver(reviewed)
    review_diagnostic(
        diagnostic=reviewed, actor=UserFactory(), decision=Decision.CONFIRM
    )  # lost too

    missed = delivery.catch_up()

    assert sorted((d.diagnostic_id, d.trigger) for d in missed) == [
        (result.pk, Trigger.RESULT), (reviewed.pk, Trigger.REVIEW)
    ]  # fmt: skip
    for scheduled in missed:
        delivery.attempt(scheduled.pk)
    assert delivery.catch_up() == []  # delivered since: nothing more to catch up
    (report,) = [
        r
        for r in fhir_server.all("DiagnosticReport")
        if r["identifier"][0]["value"] == str(reviewed.pk)
    ]
    assert len(report["result"]) == 2


def test_a_pending_delivery_whose_task_was_lost_is_sent_again(
    fhir_server, linked_patient, settings
):
    from django.utils import timezone

    (lost,) = delivery.schedule(diagnostic_ids=[_result(linked_patient).pk], trigger=Trigger.RESULT)
    Delivery.objects.filter(pk=lost.pk).update(
        updated_at=timezone.now() - timezone.timedelta(hours=2)
    )

    again = [d.pk for d in delivery.catch_up()]

    assert again == [lost.pk]
    assert delivery.catch_up() == []  # touched: not sent again by the next run
