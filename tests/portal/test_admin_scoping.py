"""Site administrators manage only their own sites in the admin, and cannot escalate."""

import pytest
from django.contrib.auth import get_user_model

from portal.core.models import AuditEvent, Membership, Patient, Role
from tests.factories import (
    PatientFactory,
    SiteFactory,
    UserFactory,
    verified_login,
)

pytestmark = pytest.mark.django_db


def test_a_site_admin_lists_only_their_sites_patients_and_members(
    admin_client, site, other_site, clinician, other_clinician
):
    mine = PatientFactory(site=site, family_name="Mineholm")
    PatientFactory(site=other_site, family_name="Elsewhereson")

    patients = admin_client.get("/admin/portal/patient/")
    users = admin_client.get("/admin/auth/user/")

    assert patients.status_code == 200
    assert b"Mineholm" in patients.content and b"Elsewhereson" not in patients.content
    assert admin_client.get(f"/admin/portal/patient/{mine.pk}/change/").status_code == 200
    other = Patient.objects.get(family_name="Elsewhereson")
    assert admin_client.get(f"/admin/portal/patient/{other.pk}/change/").status_code == 302
    assert clinician.username.encode() in users.content
    assert other_clinician.username.encode() not in users.content


def test_a_site_admin_cannot_edit_their_own_membership(admin_client, site_admin):
    own = Membership.objects.get(user=site_admin)

    response = admin_client.post(
        f"/admin/portal/membership/{own.pk}/change/",
        {"user": site_admin.pk, "site": own.site_id, "role": Role.SITE_ADMIN},
    )

    assert response.status_code == 403
    assert Membership.objects.filter(user=site_admin).count() == 1


def test_a_site_admin_cannot_grant_a_membership_at_another_site(
    admin_client, clinician, other_site
):
    response = admin_client.post(
        "/admin/portal/membership/add/",
        {"user": clinician.pk, "site": other_site.pk, "role": Role.CLINICIAN},
    )

    assert response.status_code == 200  # the form again, with the error
    assert b"Select a valid choice" in response.content
    assert not Membership.objects.filter(user=clinician, site=other_site).exists()


def test_a_site_admin_cannot_give_themselves_another_membership(admin_client, site_admin, site):
    response = admin_client.post(
        "/admin/portal/membership/add/",
        {"user": site_admin.pk, "site": site.pk, "role": Role.CLINICIAN},
    )

    assert b"You cannot change your own memberships" in response.content
    assert Membership.objects.filter(user=site_admin).count() == 1


def test_staff_and_superuser_status_cannot_be_granted_by_a_site_admin(admin_client, clinician):
    page = admin_client.get(f"/admin/auth/user/{clinician.pk}/change/")
    admin_client.post(
        f"/admin/auth/user/{clinician.pk}/change/",
        {"username": clinician.username, "is_active": "on", "is_staff": "on",
         "is_superuser": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"},
    )  # fmt: skip

    clinician.refresh_from_db()
    assert b'name="is_superuser"' not in page.content
    assert not clinician.is_staff and not clinician.is_superuser
    created = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "sneaky", "password1": "a-long-password-42", "password2": "a-long-password-42",
         "is_superuser": "on", "is_staff": "on"},
    )  # fmt: skip
    sneaky = get_user_model().objects.get(username="sneaky")
    # The add form has no such fields for a site admin: the user is made, the flags are ignored.
    assert created.status_code == 302
    assert not sneaky.is_superuser and not sneaky.is_staff


def test_a_site_admin_cannot_move_a_patient_to_another_site(admin_client, site, other_site):
    patient = PatientFactory(site=site)
    page = admin_client.get(f"/admin/portal/patient/{patient.pk}/change/")

    assert b'name="site"' not in page.content  # read-only for site administrators
    patient.refresh_from_db()
    assert patient.site == site


def test_admin_changes_are_audited_with_field_names_not_values(admin_client, site):
    patient = PatientFactory(site=site, given_name="Oldname")
    data = {
        "external_id": patient.external_id, "given_name": "Newname",
        "family_name": patient.family_name, "birth_date": "1970-01-01", "sex": "unknown",
    }  # fmt: skip

    response = admin_client.post(f"/admin/portal/patient/{patient.pk}/change/", data)

    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.get(action="admin.changed")
    assert event.patient_id == patient.pk and event.request_id
    assert "Newname" not in str(event.detail) and "Oldname" not in str(event.detail)
    assert event.detail["fields"]


def test_the_audit_log_is_read_only_in_the_admin_and_exports_csv(client, site):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    verified_login(client, admin)
    PatientFactory(site=SiteFactory())
    event = AuditEvent.objects.create(action="patient.viewed", object_type="portal.patient")

    assert client.get(f"/admin/portal/auditevent/{event.pk}/delete/").status_code == 403
    assert client.get("/admin/portal/auditevent/add/").status_code == 403
    export = client.post(
        "/admin/portal/auditevent/",
        {"action": "export_as_csv", "_selected_action": [event.pk]},
    )
    assert export.status_code == 200
    body = b"".join(export.streaming_content).decode()
    assert body.splitlines()[0].startswith("at,action,actor")
    assert AuditEvent.objects.filter(action="admin.exported").count() == 1


def test_staff_without_a_verified_second_factor_are_kept_out_of_the_admin(client, site_admin):
    client.force_login(site_admin)  # password only

    response = client.get("/admin/portal/patient/")

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_research_pseudonyms_are_read_only_in_the_admin(client, site):
    from media_assets.models import RecordingPseudonym
    from tests.factories_clinical import RecordingFactory

    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    pseudonym = RecordingPseudonym.objects.create(
        recording=RecordingFactory(patient=PatientFactory(site=site))
    )
    verified_login(client, root)

    listing = client.get("/admin/media_assets/recordingpseudonym/")

    assert listing.status_code == 200 and pseudonym.value.encode() in listing.content
    assert client.get("/admin/media_assets/recordingpseudonym/add/").status_code == 403
    change = client.post(f"/admin/media_assets/recordingpseudonym/{pseudonym.pk}/change/",
                         {"value": "forged"})  # fmt: skip
    assert change.status_code == 403
    pseudonym.refresh_from_db()
    assert pseudonym.value != "forged"
