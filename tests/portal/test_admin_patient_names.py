"""The admin finds patients as the pages do (any word, accents and capitals ignored) and names
them in the recording and result lists, in a fixed number of queries."""

import pytest

from tests.factories import PatientFactory
from tests.factories_clinical import succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def zoe(site):
    return PatientFactory(site=site, external_id="Z-1", given_name="Zoë",
                          family_name="Ğüneş-Ødegård")  # fmt: skip


@pytest.mark.parametrize("query", ["odegard", "Ødegård", "zoe", "gunes-odegard", "z-1"])
def test_the_admin_patient_search_folds_accents_and_finds_any_word(admin_client, zoe, query):
    PatientFactory(site=zoe.site, external_id="A-1", given_name="Ada", family_name="Abara")

    response = admin_client.get("/admin/portal/patient/", {"q": query})

    assert [p.external_id for p in response.context["cl"].result_list] == ["Z-1"]


@pytest.mark.parametrize(
    "path", ["/admin/media_assets/recording/", "/admin/diagnostics/diagnostic/"]
)
def test_recording_and_result_lists_name_the_patient(admin_client, zoe, path):
    succeeded(recording__patient=zoe)

    response = admin_client.get(path)

    assert "Zoë Ğüneş-Ødegård (Z-1)" in response.content.decode()
    assert f"Patient #{zoe.pk}" not in response.content.decode()


@pytest.mark.parametrize(
    "path", ["/admin/media_assets/recording/", "/admin/diagnostics/diagnostic/"]
)
def test_naming_the_patient_costs_no_query_per_row(admin_client, site, path,
                                                   django_assert_max_num_queries):  # fmt: skip
    succeeded(recording__patient=PatientFactory(site=site))
    admin_client.get(path)
    for _ in range(10):
        succeeded(recording__patient=PatientFactory(site=site))
    with django_assert_max_num_queries(12):
        admin_client.get(path)
