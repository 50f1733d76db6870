"""Demo data for the embedded default: complete, invented, and created only once."""

import pytest
from django.contrib.auth import get_user_model

from portal.core.models import Membership, Patient, Site
from portal.demo import seed_demo

pytestmark = pytest.mark.django_db


def test_seed_creates_two_sites_every_demo_role_and_patients_on_both():
    result = seed_demo(password="a-demo-password-for-tests")

    assert result.created and not result.generated_password
    assert Site.objects.count() == 2
    for username in ["admin", "siteadmin", "clinician", "clinician2", "researcher"]:
        assert (
            get_user_model()
            .objects.get(username=username)
            .check_password("a-demo-password-for-tests")
        )
    clinician_site = Membership.objects.get(user__username="clinician").site
    other_site = Membership.objects.get(user__username="clinician2").site
    assert clinician_site != other_site
    assert Patient.objects.filter(site=clinician_site).count() >= 12
    assert Patient.objects.filter(site=other_site).count() >= 12
    assert Patient.objects.filter(research_consent=True).exists()
    assert Patient.objects.filter(research_consent=False).exists()


def test_seed_generates_a_password_when_none_is_given_and_never_runs_twice():
    first = seed_demo(password="")
    second = seed_demo(password="")

    assert first.generated_password and len(first.password) >= 12
    assert get_user_model().objects.get(username="clinician").check_password(first.password)
    assert not second.created and second.password is None
    assert Site.objects.count() == 2
