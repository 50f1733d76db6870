"""The audit log's list in the admin filters by who acted and by patient: typed, not picked from
a list of every user and every patient the log has ever named."""

import pytest

from portal.core.models import AuditEvent
from tests.factories import PatientFactory, UserFactory, verified_login

pytestmark = pytest.mark.django_db

LIST = "/admin/portal/auditevent/"


def shown(response) -> list[tuple[str, str, int | None]]:
    """(action, actor, patient id) of each event the list shows, but the list's own."""
    assert response.status_code == 200
    return sorted(
        (event.action, event.actor.username if event.actor else "", event.patient_id)
        for event in response.context["cl"].result_list
        if not event.action.startswith("admin.")
    )


@pytest.fixture
def trail(site, other_site, clinician, other_clinician):
    north, south = PatientFactory(site=site), PatientFactory(site=other_site)
    for actor, patient in [(clinician, north), (clinician, north), (other_clinician, south)]:
        AuditEvent.objects.create(
            action="patient.viewed", actor=actor, patient=patient, site=patient.site
        )
    AuditEvent.objects.create(action="home.viewed", actor=clinician)
    return north, south


@pytest.fixture
def root_client(client):
    verified_login(client, UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_the_list_filters_by_who_acted_whatever_the_case_typed(root_client, trail, clinician):
    north, _south = trail

    response = root_client.get(LIST, {"actor": clinician.username.upper()})

    assert shown(response) == [
        ("home.viewed", "clin", None),
        ("patient.viewed", "clin", north.pk),
        ("patient.viewed", "clin", north.pk),
    ]
    page = response.content.decode()
    assert f'name="actor" value="{clinician.username.upper()}"' in page


def test_the_list_filters_by_patient_and_keeps_the_other_filters(root_client, trail):
    _north, south = trail

    response = root_client.get(LIST, {"patient": str(south.pk), "action": "patient.viewed"})

    assert shown(response) == [("patient.viewed", "clin2", south.pk)]
    page = response.content.decode()
    # Each filter's form carries the others: typing an actor keeps the patient and the action.
    assert '<input type="hidden" name="action" value="patient.viewed">' in page
    assert f'<input type="hidden" name="patient" value="{south.pk}">' in page


def test_a_patient_typed_as_anything_but_a_number_finds_nothing_and_says_why(root_client, trail):
    response = root_client.get(LIST, {"patient": "Smith"})

    assert shown(response) == []
    messages = [str(message) for message in response.context["messages"]]
    assert messages == ["Filter by the patient's number as this list shows it: digits only."]


def test_a_site_administrator_filtering_by_another_sites_clinician_sees_nothing(
    admin_client, trail, other_clinician, clinician
):
    assert shown(admin_client.get(LIST, {"actor": other_clinician.username})) == []
    assert len(shown(admin_client.get(LIST, {"actor": clinician.username}))) == 2
