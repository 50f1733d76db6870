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
