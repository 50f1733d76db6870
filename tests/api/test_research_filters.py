"""The research export's filters: label, reviewed label, reviewed, model version, kind, site, years."""

import pytest
from django.utils import timezone

from diagnostics.models import Label
from portal.core.models import Role
from tests.api.research_data import export, rows_of, seed_cohort
from tests.factories import MembershipFactory, PatientFactory, SiteFactory
from tests.factories_clinical import ModelVersionFactory, RecordingFactory, succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def varied(researcher, site):
    """Consenting patients with diagnostics that differ in one attribute each."""
    patient = PatientFactory(site=site, research_consent=True, research_consent_at=timezone.now())
    model = ModelVersionFactory(version="9.9")
    breath = RecordingFactory(patient=patient, kind="breath")
    return {
        "plain": succeeded(recording=RecordingFactory(patient=patient), label=Label.HEALTHY),
        "reviewed": succeeded(
            recording=RecordingFactory(patient=patient),
            label=Label.ANOMALY,
            review_label=Label.INCONCLUSIVE,
            reviewed_at=timezone.now(),
        ),
        "model": succeeded(recording=RecordingFactory(patient=patient), model_version=model),
        "breath": succeeded(recording=breath),
        "old": succeeded(
            recording=RecordingFactory(
                patient=patient, created_at=timezone.now().replace(year=2019)
            )
        ),
    }


def count(client, **params) -> int:
    response, body = export(client, "csv", **params)
    assert response.status_code == 200, response.content
    return len(rows_of("csv", body))


def test_each_filter_narrows_the_export(researcher_api, varied):
    this_year = timezone.now().year
    model = varied["model"].model_version

    assert count(researcher_api) == 5
    assert count(researcher_api, label="healthy") == 1
    assert count(researcher_api, reviewed_label="inconclusive") == 1
    assert count(researcher_api, reviewed="true") == 1
    assert count(researcher_api, reviewed="false") == 4
    assert count(researcher_api, model_version=model.pk) == 1
    assert count(researcher_api, kind="breath") == 1
    assert count(researcher_api, recorded_after="2019-01-01", recorded_before="2019-12-31") == 1
    assert count(researcher_api, recorded_after=f"{this_year}-01-01") == 4


def test_the_site_filter_takes_a_site_code_of_the_researchers_own(
    researcher, researcher_api, site, other_site
):
    seed_cohort(site)
    MembershipFactory(user=researcher, site=other_site, role=Role.RESEARCHER)
    stranger = SiteFactory(code="west")
    seed_cohort(stranger)  # a site this researcher does not belong to

    assert count(researcher_api, site=site.code) == 2
    assert count(researcher_api, site=other_site.code) == 0
    response, _ = export(researcher_api, site="west")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_researcher_exports_only_the_sites_they_research(researcher_api, site, other_site):
    seed_cohort(site)
    seed_cohort(other_site)

    rows = rows_of("csv", export(researcher_api)[1])

    assert {row["site"] for row in rows} == {site.code}


@pytest.mark.parametrize(
    "params",
    [{"format": "xlsx"}, {"dataset": "everything"}, {"label": "sick"}, {"model_version": "x"},
     {"recorded_after": "14/03/2024"}, {"reviewed": "maybe"}],
)  # fmt: skip
def test_invalid_parameters_get_400_in_the_error_shape(researcher_api, site, params):
    response = researcher_api.get("/api/v1/research/diagnostics/", params)

    assert response.status_code == 400
    assert set(response.json()["error"]) >= {"code", "message"}
    assert response.json()["error"]["code"] == "invalid"
