"""Who needs a second factor, and the gate that holds every door to it.

Administrators, staff and site administrators always sign in with a one-time code from an
authenticator app as well as their password; clinicians and researchers do where
``OTP_REQUIRED_ROLES`` names their role (production names both). The sign-in page, the admin's
sign-in and the API's token endpoint ask for the code; a session that was signed in without it (an
older session, or one made by any other door) is, for such an account, no sign-in at all: the
middleware below hands the request on as anonymous, so pages send it to sign in and the API answers
401. Live sockets ask ``session_verified`` of the session that opened them.
"""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.functional import SimpleLazyObject
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user
from django_otp.models import Device

from portal.core.models import Membership, Role

ALWAYS = (Role.SITE_ADMIN,)


def required_for(user) -> bool:
    """Whether ``user`` must prove a second factor to reach anything but signing in."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_staff or user.is_superuser:
        return True
    roles = {*ALWAYS, *settings.OTP_REQUIRED_ROLES}
    if roles >= set(Role.values):
        return True  # every role needs it (production): no need to look the user's roles up
    return Membership.objects.filter(user=user, role__in=roles).exists()


def has_device(user) -> bool:
    """Whether ``user`` has an authenticator to type a code from (a device that only records a
    second factor given elsewhere, such as the identity provider's, says ``accepts_codes =
    False``)."""
    return any(
        getattr(device, "accepts_codes", True) for device in devices_for_user(user, confirmed=True)
    )


def verify(user, code: str):
    """The user's confirmed device that accepts ``code``, or None. Each device throttles its own
    failures (django-otp doubles the wait after each), so a code cannot be guessed by trying."""
    if not code:
        return None
    for device in devices_for_user(user, confirmed=True):
        allowed, _reason = device.verify_is_allowed()
        if allowed and device.verify_token(code):
            return device
    return None


def session_verified(session, user) -> bool:
    """Whether ``session`` (a Django session, as a socket's scope holds it) was signed in with a
    second factor of ``user``'s, as django-otp's middleware decides for a request."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return bool(device and device.user_id == user.pk and device.confirmed)


class SecondFactorMiddleware:
    """After django-otp's ``OTPMiddleware``: a signed-in user who needs a second factor and has not
    given one in this session is handled as anonymous (checked lazily, when the user is read)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        request.user = SimpleLazyObject(lambda: _gated(user))
        return self.get_response(request)


def _gated(user):
    if user.is_authenticated and not user.is_verified() and required_for(user):
        anonymous = AnonymousUser()
        anonymous.is_verified = lambda: False  # as OTPMiddleware equips every user
        return anonymous
    return user
