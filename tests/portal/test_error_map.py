"""One table maps every domain failure to what the API, the pages and the sockets answer."""

import pytest
from django.apps import apps
from django.utils.module_loading import autodiscover_modules

from media_assets.audio import AudioRejected
from portal.core.errors import ANSWERS, DomainError, Kind, NotVisible, answer_for


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_domain_failure_has_an_answer_on_every_surface():
    autodiscover_modules("services", "reviews", "errors", "registry")
    failures = [*_subclasses(DomainError), AudioRejected, *_subclasses(AudioRejected)]
    assert len(failures) > 15  # the project's own, not just this module's
    for failure in failures:
        answer = answer_for(failure)
        assert 400 <= answer.http_status < 600 and 4000 <= answer.socket_close_code < 5000
        assert failure.code and failure.code != "error", failure


def test_the_table_gives_each_kind_its_own_status_and_close_code():
    assert set(ANSWERS) == set(Kind)
    assert len({a.http_status for a in ANSWERS.values()}) == len(Kind)
    assert len({a.socket_close_code for a in ANSWERS.values()}) == len(Kind)


@pytest.mark.django_db
def test_an_object_out_of_reach_is_a_404_page_and_a_404_json_body(client, clinician, other_patient):
    client.force_login(clinician)

    page = client.get(f"/patients/{other_patient.pk}/")
    api = client.get(f"/api/v1/patients/{other_patient.pk}/")

    assert page.status_code == 404 and b"We could not find that page" in page.content
    assert api.status_code == 404
    assert api.json() == {"error": {"code": "not_found", "message": "Patient not found."}}
    assert NotVisible("Patient").message == "Patient not found."
    assert apps.is_installed("portal.core")
