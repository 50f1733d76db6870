"""Enrolling an authenticator app, only through a one-time link an administrator issues.

A password alone never enrols a device: whoever learnt a staff password could otherwise enrol
their own phone and pass the second factor. An administrator (or ``manage.py
issue_enrolment_link``) issues a link for one user; the link shows the key only to someone who
also types that user's password, and confirming one code from the app enrols the device and uses
the link up. Only a hash of the link's secret is stored.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.core.audit import AuditContext, record_event
from portal.core.errors import Invalid, NotVisible
from portal.core.models import EnrolmentLink


class CodeDidNotMatch(Invalid):
    code = "otp_invalid"
    default_message = "That code did not match. Check the time on your phone and try again."


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_link(*, user, actor=None, audit: AuditContext | None = None) -> str:
    """A new enrolment link for ``user`` (its path, holding the secret; shown once)."""
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        EnrolmentLink.objects.create(
            user=user,
            secret_hash=_hash(secret),
            issued_by=actor,
            expires_at=timezone.now() + timedelta(hours=settings.ENROLMENT_LINK_HOURS),
        )
        record_event(action="auth.enrolment_link_issued", actor=actor, obj=user, context=audit)
    return reverse("two-factor-enrol", kwargs={"secret": secret})


def usable_link(secret: str) -> EnrolmentLink:
    """The link of ``secret`` if it can still be used; ``NotVisible`` otherwise (used, expired
    and unknown links are told apart from nothing)."""
    link = EnrolmentLink.objects.select_related("user").filter(secret_hash=_hash(secret)).first()
    if link is None or not link.is_usable() or not link.user.is_active:
        raise NotVisible("Enrolment link")
    return link


def pending_device(*, link: EnrolmentLink) -> TOTPDevice:
    """The device being enrolled through ``link`` (made on first use, unconfirmed until a code
    from it is confirmed)."""
    device, _created = TOTPDevice.objects.get_or_create(
        user=link.user, confirmed=False, defaults={"name": "Authenticator app"}
    )
    return device


def enrol(*, link: EnrolmentLink, code: str, audit: AuditContext | None = None) -> TOTPDevice:
    """Confirm the pending device with ``code`` from it and use the link up."""
    with transaction.atomic():
        link = EnrolmentLink.objects.select_for_update().get(pk=link.pk)
        if not link.is_usable():
            raise NotVisible("Enrolment link")
        device = pending_device(link=link)
        if not device.verify_token(code):
            raise CodeDidNotMatch
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
        record_event(action="auth.two_factor_enrolled", actor=link.user, context=audit)
    return device
