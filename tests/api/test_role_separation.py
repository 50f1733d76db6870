"""Clinical endpoints are for clinicians, research endpoints for researchers: each role gets 403 on
the other's, whatever the object, and anonymous callers get 401."""

import pytest

from tests.api.research_data import seed_cohort
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory, failed, succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(site):
    patient = PatientFactory(site=site)
    return {
        "patient": patient,
        "diagnostic": succeeded(recording__patient=patient),
        "failed": failed(recording__patient=patient),
        "queued": DiagnosticFactory(recording__patient=patient),
    }


def clinical_requests(objects) -> list[tuple[str, str, dict]]:
    patient, diagnostic = objects["patient"], objects["diagnostic"]
    return [
        ("get", "/api/v1/patients/", {}),
        ("post", "/api/v1/patients/", {"external_id": "X-1", "given_name": "A",
                                       "family_name": "B", "birth_date": "1990-01-01"}),
        ("get", f"/api/v1/patients/{patient.pk}/", {}),
        ("get", "/api/v1/diagnostics/", {}),
        ("get", f"/api/v1/diagnostics/{diagnostic.pk}/", {}),
        ("post", f"/api/v1/diagnostics/{diagnostic.pk}/review/", {"decision": "confirm"}),
        ("post", f"/api/v1/diagnostics/{objects['failed'].pk}/retry/", {}),
        ("post", "/api/v1/recordings/", {"patient": patient.pk, "kind": "cough"}),
        ("post", "/api/v1/uploads/", {"patient": patient.pk, "kind": "cough", "size_bytes": 10,
                                      "sha256": "0" * 64}),
    ]  # fmt: skip


RESEARCH_REQUESTS = [
    ("get", "/api/v1/research/diagnostics/", {}),
    ("get", "/api/v1/research/diagnostics/", {"format": "parquet", "dataset": "limited"}),
    ("get", "/api/v1/research/recordings/abcdef0123456789abcdef01/audio", {}),
]


def call(client, method: str, url: str, data: dict):
    if method == "get":
        return client.get(url, data)
    return client.post(url, data, format="json")


def test_researchers_get_403_on_every_clinical_endpoint(agreement_api, objects):
    for method, url, data in clinical_requests(objects):
        response = call(agreement_api, method, url, data)
        assert response.status_code == 403, (method, url, response.status_code)
        assert response.json()["error"]["code"] == "permission_denied"
    assert (
        objects["diagnostic"].__class__.objects.get(pk=objects["diagnostic"].pk).review_label == ""
    )


def test_clinicians_get_403_on_every_research_endpoint(clinician_api, site):
    seed_cohort(site)
    for method, url, data in RESEARCH_REQUESTS:
        response = call(clinician_api, method, url, data)
        assert response.status_code == 403, (url, response.status_code)
        assert response.json()["error"] == {
            "code": "permission_denied",
            "message": "This endpoint is for researchers.",
        }


def test_anonymous_callers_get_401_everywhere(client, objects):
    for method, url, data in [*clinical_requests(objects), *RESEARCH_REQUESTS]:
        response = getattr(client, method)(url, data)
        assert response.status_code == 401, (url, response.status_code)
        assert response.json()["error"]["code"] == "not_authenticated"


def test_the_model_registry_is_open_to_both_roles_and_holds_no_patient_data(
    clinician_api, researcher_api, objects, client
):
    for api in (clinician_api, researcher_api):
        response = api.get("/api/v1/models/")
        assert response.status_code == 200
        assert response.json()["results"]
        assert {"artifact", "patient"}.isdisjoint(response.json()["results"][0])
    assert client.get("/api/v1/models/").status_code == 401
