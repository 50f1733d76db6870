"""A clinician never sees another site's patients or diagnostics, through any route or filter."""

import pytest

from diagnostics.models import Diagnostic
from portal.core.models import Patient
from tests.factories import PatientFactory
from tests.factories_clinical import ModelVersionFactory, RecordingFactory, failed, succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_sites(site, other_site):
    """The same kinds of objects at both sites, sharing a model version and an external id."""
    model = ModelVersionFactory()
    out = {}
    for name, where in (("own", site), ("other", other_site)):
        patient = PatientFactory(site=where, external_id="SHARED-7", research_consent=True,
                                 research_consent_at="2024-01-01T00:00Z")  # fmt: skip
        out[name] = {
            "patient": patient,
            "succeeded": succeeded(
                recording=RecordingFactory(patient=patient, kind="breath"),
                model_version=model,
                review_label="healthy",
                reviewed_at="2024-05-01T00:00Z",
            ),
            "failed": failed(recording__patient=patient),
        }
    return out


DIAGNOSTIC_FILTERS = [
    {}, {"status": "succeeded"}, {"status": "failed"}, {"label": "anomaly"},
    {"review_label": "healthy"}, {"reviewed": "true"}, {"reviewed": "false"}, {"kind": "breath"},
    {"queued_after": "2000-01-01"}, {"queued_before": "2999-12-31"}, {"page_size": 1000},
]  # fmt: skip


def test_no_diagnostics_filter_reaches_another_site(clinician_api, two_sites):
    own = set(Diagnostic.objects.filter(patient__site=two_sites["own"]["patient"].site)
              .values_list("id", flat=True))  # fmt: skip
    model = two_sites["own"]["succeeded"].model_version_id
    for params in [*DIAGNOSTIC_FILTERS, {"model_version": model}]:
        response = clinician_api.get("/api/v1/diagnostics/", params)
        assert response.status_code == 200, params
        ids = {row["id"] for row in response.json()["results"]}
        assert ids and ids <= own, params


def test_a_patient_filter_naming_another_sites_patient_is_refused_like_a_missing_one(
    clinician_api, two_sites
):
    foreign = clinician_api.get(
        "/api/v1/diagnostics/", {"patient": two_sites["other"]["patient"].pk}
    )
    missing = clinician_api.get("/api/v1/diagnostics/", {"patient": 999999})

    assert foreign.status_code == missing.status_code == 400
    assert foreign.json() == missing.json()


def test_no_patients_filter_reaches_another_site(clinician_api, two_sites, other_site):
    own_id = two_sites["own"]["patient"].pk
    for params in [{}, {"research_consent": "true"}, {"page_size": 1000}]:
        response = clinician_api.get("/api/v1/patients/", params)
        assert [row["id"] for row in response.json()["results"]] == [own_id], params
    lookup = clinician_api.post("/api/v1/patients/lookup/", {"external_id": "SHARED-7"},
                                format="json")  # fmt: skip
    assert [row["id"] for row in lookup.json()] == [own_id]
    site_filter = clinician_api.get("/api/v1/patients/", {"site": other_site.pk})
    assert site_filter.status_code == 400


def test_another_sites_objects_are_not_found_on_every_object_route(clinician_api, two_sites):
    other = two_sites["other"]
    routes = [
        ("get", f"/api/v1/patients/{other['patient'].pk}/", {}),
        ("get", f"/api/v1/diagnostics/{other['succeeded'].pk}/", {}),
        ("post", f"/api/v1/diagnostics/{other['succeeded'].pk}/review/", {"decision": "confirm"}),
        ("post", f"/api/v1/diagnostics/{other['failed'].pk}/retry/", {}),
    ]
    for method, url, data in routes:
        response = getattr(clinician_api, method)(url, data, format="json")
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    assert Diagnostic.objects.get(pk=other["failed"].pk).status == "failed"


def test_a_new_patient_cannot_be_placed_at_another_site(clinician_api, two_sites, other_site):
    response = clinician_api.post(
        "/api/v1/patients/",
        {"site": other_site.pk, "external_id": "NEW-1", "given_name": "A", "family_name": "B",
         "birth_date": "1990-01-01"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 400
    assert "site" in response.json()["error"]["fields"]
    assert not Patient.objects.filter(external_id="NEW-1").exists()
