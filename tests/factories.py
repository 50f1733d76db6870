"""factory_boy factories for the data model. Invented names only."""

import datetime

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from portal.core.models import Membership, Patient, Role, Site


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "a-long-test-password")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    code = factory.Sequence(lambda n: f"site{n}")
    name = factory.Sequence(lambda n: f"Clinic {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    site = factory.SubFactory(SiteFactory)
    role = Role.CLINICIAN


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    site = factory.SubFactory(SiteFactory)
    external_id = factory.Sequence(lambda n: f"MRN-{n:06d}")
    given_name = "Testa"
    family_name = factory.Sequence(lambda n: f"Patientson{n}")
    birth_date = datetime.date(1970, 1, 1)
    research_consent = False


def consenting(**kwargs) -> Patient:
    return PatientFactory(research_consent=True, research_consent_at=timezone.now(), **kwargs)


def totp_device(user, key: str = "3132333435363738393031323334353637383930"):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="test", key=key, confirmed=True)


def current_totp(device) -> str:
    from django_otp.oath import totp

    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def verified_login(client, user) -> None:
    """Sign in as ``user`` with a verified second factor, as the admin requires of staff."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device = totp_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
