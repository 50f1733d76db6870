"""The permission module scopes every read to the user's sites."""

import pytest
from django.contrib.auth.models import AnonymousUser

from portal.core import permissions
from portal.core.models import Role
from tests.factories import MembershipFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_clinician_sees_only_patients_of_their_own_sites(clinician, site, other_site):
    mine = PatientFactory(site=site)
    PatientFactory(site=other_site)

    assert list(permissions.patients_for(clinician)) == [mine]


def test_a_user_of_two_sites_sees_both(clinician, site, other_site):
    MembershipFactory(user=clinician, site=other_site, role=Role.CLINICIAN)
    PatientFactory(site=site)
    PatientFactory(site=other_site)

    assert permissions.patients_for(clinician).count() == 2


def test_researchers_anonymous_and_inactive_users_see_no_identified_patients(site):
    PatientFactory(site=site)
    researcher = UserFactory()
    MembershipFactory(user=researcher, site=site, role=Role.RESEARCHER)
    inactive = UserFactory(is_active=False)
    MembershipFactory(user=inactive, site=site, role=Role.CLINICIAN)

    assert not permissions.patients_for(researcher).exists()
    assert not permissions.patients_for(AnonymousUser()).exists()
    assert not permissions.patients_for(inactive).exists()
    assert list(permissions.research_sites(researcher)) == [site]


def test_staff_status_alone_opens_no_patient_but_superusers_see_all(site, other_site):
    PatientFactory(site=site)
    PatientFactory(site=other_site)

    assert not permissions.patients_for(UserFactory(is_staff=True)).exists()
    assert permissions.patients_for(UserFactory(is_superuser=True)).count() == 2


# --- One reading of the memberships a request ----------------------------------------------------


def in_a_request(check):
    """``check()`` answered as within one web request (the middleware's scope)."""
    return permissions.RequestScopeMiddleware(lambda _request: check())(None)


def membership_reads(queries) -> int:
    return sum('FROM "portal_membership"' in query["sql"] for query in queries)


def test_a_request_reads_the_memberships_once_for_all_its_checks(clinician, site, other_site):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    MembershipFactory(user=clinician, site=other_site, role=Role.CLINICIAN)
    PatientFactory(site=site)
    PatientFactory(site=other_site)
    PatientFactory(site=MembershipFactory(role=Role.CLINICIAN).site)  # another user's site

    def checks():
        return (
            permissions.has_clinical_role(clinician),
            permissions.patients_for(clinician).count(),
            permissions.patients_for(clinician).filter(site=site).count(),
            sorted(site.code for site in permissions.sites_for(clinician)),
        )

    with CaptureQueriesContext(connection) as once:
        answers = in_a_request(checks)
    with CaptureQueriesContext(connection) as outside:
        assert checks() == answers  # the same answers from the subqueries
    assert answers == (True, 2, 1, sorted([site.code, other_site.code]))
    assert membership_reads(once) == 1
    assert membership_reads(outside) == 4  # one inside each of the four queries


def test_the_gates_list_of_sites_serves_the_rest_of_its_request(clinician, site):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    PatientFactory(site=site)

    def gate_then_scope():
        sites = permissions.clinical_sites(clinician)
        return sites, permissions.patients_for(clinician).count()

    with CaptureQueriesContext(connection) as queries:
        sites, patients = in_a_request(gate_then_scope)
    assert (sites, patients) == ([site], 1)
    assert membership_reads(queries) == 1  # inside the gate's query: no query of its own
    assert len(queries) == 2


def test_a_request_with_no_clinical_membership_reaches_nothing(site):
    PatientFactory(site=site)
    researcher = UserFactory()
    MembershipFactory(user=researcher, site=site, role=Role.RESEARCHER)

    assert in_a_request(
        lambda: (
            permissions.has_clinical_role(researcher),
            permissions.patients_for(researcher).count(),
        )
    ) == (False, 0)


def test_outside_a_request_a_revoked_membership_closes_at_the_next_check(clinician, site):
    """A socket keeps its user for hours: each of its checks reads the memberships again."""
    PatientFactory(site=site)
    assert permissions.patients_for(clinician).count() == 1

    clinician.memberships.all().delete()

    assert permissions.patients_for(clinician).count() == 0
    assert not permissions.has_clinical_role(clinician)


def test_within_a_request_memberships_changed_are_read_again_once_forgotten(clinician, site):
    PatientFactory(site=site)

    def revoke_midway():
        before = permissions.patients_for(clinician).count()
        clinician.memberships.all().delete()
        remembered = permissions.patients_for(clinician).count()
        permissions.forget_sites()
        return before, remembered, permissions.patients_for(clinician).count()

    assert in_a_request(revoke_midway) == (1, 1, 0)


def test_a_revoked_membership_closes_the_clinicians_next_request(client, clinician, site):
    patient = PatientFactory(site=site)
    client.force_login(clinician)
    assert client.get(f"/patients/{patient.pk}/").status_code == 200

    clinician.memberships.all().delete()

    assert client.get(f"/patients/{patient.pk}/").status_code == 403
    assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_scope_holds_for_a_request_answered_over_asgi(clinician, site, monkeypatch):
    """Production answers over ASGI, where a request passes between the event loop and a worker
    thread on its way through the middleware: the view's checks must still find the scope."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    scoped = []
    site_ids = permissions._site_ids

    def spy(user, roles):
        scoped.append(permissions._request_sites.get() is not None)
        return site_ids(user, roles)

    monkeypatch.setattr(permissions, "_site_ids", spy)
    patient = PatientFactory(site=site)
    client = AsyncClient()
    async_to_sync(client.aforce_login)(clinician)

    response = async_to_sync(client.get)(f"/patients/{patient.pk}/")

    assert response.status_code == 200
    assert scoped and all(scoped), scoped
