"""Demo data for the embedded default: two clinics, one user per role and invented patients.

Every name here is made up; nothing resembles a real person's record.
"""

import base64
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.core.models import Membership, Patient, Role, Sex, Site, index_for_search
from portal.core.roles import provision_roles

GIVEN = ["Ada", "Bram", "Chiara", "Dawit", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas",
         "Kemal", "Lina", "Mateo", "Nour", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tove"]  # fmt: skip
FAMILY = ["Abara", "Brandt", "Castell", "Demir", "Eklund", "Farouk", "Gallo", "Haddad", "Ito",
          "Jansen", "Kowal", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov"]  # fmt: skip

DEMO_USERS = [
    # username, site code, role, staff, superuser
    ("admin", None, None, True, True),
    ("siteadmin", "north", Role.SITE_ADMIN, True, False),
    ("clinician", "north", Role.CLINICIAN, False, False),
    ("clinician2", "south", Role.CLINICIAN, False, False),
    ("researcher", "north", Role.RESEARCHER, False, False),
]


@dataclass
class DemoResult:
    created: bool
    password: str | None
    generated_password: bool
    totp_key: str | None = None  # base32, for the demo users' authenticator app


def demo_exists() -> bool:
    return get_user_model().objects.filter(username="admin").exists()


@transaction.atomic
def seed_demo(
    *, password: str = "", totp_key: str = "", patients_per_site: int = 24, seed: int = 7
) -> DemoResult:
    """Create the demo sites, users and patients unless they exist; returns the password used."""
    if demo_exists():
        return DemoResult(created=False, password=None, generated_password=False)
    generated = not password
    password = password or secrets.token_urlsafe(12)
    totp_key = totp_key or secrets.token_hex(20)
    groups = provision_roles()
    sites = {
        "north": Site.objects.create(code="north", name="North Respiratory Clinic"),
        "south": Site.objects.create(code="south", name="South Community Hospital"),
    }
    for username, site_code, role, staff, superuser in DEMO_USERS:
        user = _create_user(username, password, site_code and sites[site_code], role, staff,
                            superuser, groups)  # fmt: skip
        # Administrators and site administrators always sign in with a one-time code, clinicians
        # and researchers where OTP_REQUIRED_ROLES names them: the demo gives all one shared key.
        TOTPDevice.objects.create(user=user, name="Demo authenticator", key=totp_key)
    rng = random.Random(seed)
    for site in sites.values():
        _create_patients(site, patients_per_site, rng)
    return DemoResult(
        created=True,
        password=password,
        generated_password=generated,
        totp_key=demo_totp_key(totp_key),
    )


def _create_user(username, password, site, role, staff, superuser, groups):
    user = get_user_model().objects.create_user(
        username=username,
        password=password,
        email=f"{username}@demo.invalid",
        is_staff=staff,
        is_superuser=superuser,
    )
    if role is not None:
        membership = Membership(user=user, site=site, role=role)
        if role == Role.RESEARCHER:
            membership.data_use_agreement_until = timezone.localdate() + timedelta(days=365)
        membership.save()
        user.groups.add(groups[role])
    return user


def _create_patients(site: Site, count: int, rng: random.Random) -> None:
    today = timezone.localdate()
    now = timezone.now()
    patients = []
    for index in range(count):
        consent = rng.random() < 0.6
        patients.append(
            Patient(
                site=site,
                external_id=f"{site.code.upper()}-{1000 + index}",
                given_name=rng.choice(GIVEN),
                family_name=rng.choice(FAMILY),
                birth_date=today - timedelta(days=rng.randint(2 * 365, 92 * 365)),
                sex=rng.choice([Sex.FEMALE, Sex.MALE, Sex.FEMALE, Sex.MALE, Sex.OTHER]),
                research_consent=consent,
                research_consent_at=now - timedelta(days=rng.randint(1, 300)) if consent else None,
            )
        )
    for patient in patients:
        patient.refresh_search_columns()  # bulk_create skips save(), which keeps them otherwise
    index_for_search(Patient.objects.bulk_create(patients))


def demo_totp_key(hex_key: str) -> str:
    """The base32 form an authenticator app takes of a 40-hex-digit ``DEMO_TOTP_KEY``."""
    return base64.b32encode(bytes.fromhex(hex_key)).decode()
