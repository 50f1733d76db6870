"""The FHIR read API: a clinician's own site's patients and results served as valid FHIR,
another site's refused exactly like records that do not exist, every read audited, and errors as
OperationOutcome."""

import pytest
from fhir.resources.R4B import get_fhir_model_class

from diagnostics.reviews import Decision, review_diagnostic
from portal.core.models import AuditEvent
from portal.fhir import codes
from tests.api.conftest import jwt_client
from tests.factories import PatientFactory
from tests.factories_clinical import RecordingFactory, succeeded

pytestmark = pytest.mark.django_db

FHIR_JSON = "application/fhir+json"


def _valid(body):
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body


@pytest.fixture
def api(clinician):
    return jwt_client(clinician)


def _result(patient):
    return succeeded(recording=RecordingFactory(patient=patient))


def test_the_capability_statement_says_what_is_served(client):
    response = client.get("/fhir/R4/metadata")

    assert response.status_code == 200 and response["Content-Type"] == FHIR_JSON
    statement = _valid(response.json())
    assert statement["fhirVersion"] == "4.0.1"
    assert [r["type"] for r in statement["rest"][0]["resource"]] == [
        "Patient", "DiagnosticReport", "Observation",
    ]  # fmt: skip


def test_own_sites_patient_and_reports_are_served_and_audited(api, clinician, linked_patient):
    diagnostic = _result(linked_patient)
    review_diagnostic(
        diagnostic=diagnostic, actor=clinician, decision=Decision.CORRECT, label="healthy"
    )

    patient = api.get(f"/fhir/R4/Patient/{linked_patient.pk}")
    reports = api.get(f"/fhir/R4/DiagnosticReport?patient=Patient/{linked_patient.pk}")
    observations = api.get(f"/fhir/R4/Observation?patient={linked_patient.pk}")
    found = api.get(
        "/fhir/R4/Patient", {"identifier": f"{linked_patient.identifier_system}|MRN-4711"}
    )

    assert patient.status_code == 200 and patient["Content-Type"] == FHIR_JSON
    assert _valid(patient.json())["identifier"][0]["value"] == "MRN-4711"
    bundle = _valid(reports.json())
    (report,) = [e["resource"] for e in bundle["entry"]]
    assert report["id"] == str(diagnostic.pk) and report["status"] == "amended"
    assert report["subject"] == {"reference": f"Patient/{linked_patient.pk}"}
    kinds = [
        e["resource"]["code"]["coding"][0]["code"] for e in _valid(observations.json())["entry"]
    ]
    assert kinds == ["model-finding", "review-decision"]
    assert [e["resource"]["id"] for e in _valid(found.json())["entry"]] == [str(linked_patient.pk)]
    one = api.get(f"/fhir/R4/Observation/{diagnostic.pk}-review")
    assert one.json()["valueCodeableConcept"]["coding"][0] == {
        "system": codes.FINDING,
        "code": "healthy",
        "display": "Likely healthy",
    }
    reads = AuditEvent.objects.filter(action="fhir.read", actor=clinician)
    assert reads.count() == 5
    assert set(reads.values_list("patient_id", flat=True)) == {linked_patient.pk}


def test_another_sites_patient_is_not_found_like_one_that_does_not_exist(api, other_site):
    theirs = PatientFactory(site=other_site)
    their_result = _result(theirs)

    answers = [
        api.get(f"/fhir/R4/Patient/{theirs.pk}"),
        api.get(f"/fhir/R4/DiagnosticReport?patient={theirs.pk}"),
        api.get(f"/fhir/R4/DiagnosticReport/{their_result.pk}"),
        api.get(f"/fhir/R4/Observation/{their_result.pk}-finding"),
    ]
    missing = api.get("/fhir/R4/Patient/999999")

    for answer in answers:
        assert answer.status_code == 404 and answer["Content-Type"] == FHIR_JSON
        assert _valid(answer.json())["issue"][0]["code"] == "not-found"
    assert answers[0].json() == missing.json()
    everything = api.get("/fhir/R4/DiagnosticReport").json()
    assert everything.get("entry", []) == []  # nor found by a search without a patient


def test_searches_page_with_a_next_link(api, linked_patient):
    results = [_result(linked_patient) for _ in range(3)]

    first = api.get("/fhir/R4/DiagnosticReport", {"_count": 2}).json()
    (next_link,) = [link["url"] for link in first["link"] if link["relation"] == "next"]
    second = api.get(next_link).json()

    ids = [e["resource"]["id"] for page in (first, second) for e in page["entry"]]
    assert ids == [str(d.pk) for d in reversed(results)]


def test_failures_are_operation_outcomes_with_their_status(api, client, site):
    anonymous = client.get("/fhir/R4/Patient")
    bad_count = api.get("/fhir/R4/Patient", {"_count": "many"})
    unknown = api.get("/fhir/R4/Encounter")

    assert anonymous.status_code == 401 and _valid(anonymous.json())["issue"][0]["code"] == "login"
    assert (
        bad_count.status_code == 400 and _valid(bad_count.json())["issue"][0]["code"] == "invalid"
    )
    assert unknown.status_code == 404 and unknown["Content-Type"] == FHIR_JSON


def test_a_researcher_reads_no_patient_through_fhir(site, linked_patient):
    from portal.core.models import Role
    from tests.factories import MembershipFactory, UserFactory

    researcher = UserFactory(username="res")
    MembershipFactory(user=researcher, site=site, role=Role.RESEARCHER)

    answer = jwt_client(researcher).get(f"/fhir/R4/Patient/{linked_patient.pk}")

    assert answer.status_code == 403 and _valid(answer.json())["issue"][0]["code"] == "forbidden"


def test_a_search_costs_the_same_queries_whatever_its_size(api, clinician, linked_patient):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(url):
        with CaptureQueriesContext(connection) as captured:
            assert api.get(url).status_code == 200
        return len(captured)

    first = _result(linked_patient)
    review_diagnostic(diagnostic=first, actor=clinician, decision=Decision.CONFIRM)
    small = [
        queries_for(f"/fhir/R4/{kind}?patient={linked_patient.pk}")
        for kind in ("DiagnosticReport", "Observation")
    ]
    for _ in range(4):
        review_diagnostic(
            diagnostic=_result(linked_patient), actor=clinician, decision=Decision.CONFIRM
        )

    large = [
        queries_for(f"/fhir/R4/{kind}?patient={linked_patient.pk}")
        for kind in ("DiagnosticReport", "Observation")
    ]

    assert large == small
