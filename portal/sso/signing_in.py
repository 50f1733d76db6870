"""The end of a sign-in at the identity provider, whichever the protocol: the provider's second
factor counted, the local code asked for otherwise, refusals audited and explained.

Sessions made here load through ``BACKEND`` (a plain user lookup by id, as Django's own).
"""

import time

from django.contrib.auth import login
from django.http import HttpResponseRedirect
from django.urls import reverse
from django_otp import login as otp_login

from portal.core import second_factor
from portal.core.audit import AuditContext
from portal.sso import services

BACKEND = "portal.sso.oidc.ProviderBackend"
REFUSAL_SESSION_KEY = "sso_refusal"
PENDING_SESSION_KEY = "sso_pending_second_factor"  # {"user", "protocol", "next"}
VOUCHED_SESSION_KEY = "sso_vouched"  # {"user": pk, "at": epoch seconds}
VOUCHED_SECONDS = 600


def complete(request, user, *, protocol: str, provider_second_factor: bool, next_url: str):
    """Sign ``user`` in (the provider has vouched for them and the portal lets them in), or
    send them to the code step, or refuse them; the response to give."""
    audit = AuditContext.of(request)
    if provider_second_factor:
        login(request, user, backend=BACKEND)
        otp_login(request, services.provider_second_factor(user))
        services.record_signed_in(user=user, protocol=protocol, second_factor="provider",
                                  audit=audit)  # fmt: skip
    elif second_factor.required_for(user):
        # The provider has just vouched for this person: for a while, in this browser only,
        # that stands in for the password an enrolment link asks (they have none here).
        request.session[VOUCHED_SESSION_KEY] = {"user": user.pk, "at": int(time.time())}
        if not second_factor.has_device(user):
            return refused(request, "second_factor_missing", protocol=protocol, user=user)
        request.session[PENDING_SESSION_KEY] = {
            "user": user.pk, "protocol": protocol, "next": next_url,
        }  # fmt: skip
        return HttpResponseRedirect(reverse("sso:second-factor"))
    else:
        login(request, user, backend=BACKEND)
        services.record_signed_in(user=user, protocol=protocol, second_factor="not_required",
                                  audit=audit)  # fmt: skip
    return HttpResponseRedirect(next_url)


def refused(request, reason: str, *, protocol: str, user=None, audited: bool = False):
    """Audit the refusal (unless the service already did) and show its page."""
    if not audited:
        services.record_refusal(reason=reason, protocol=protocol, user=user,
                                audit=AuditContext.of(request))  # fmt: skip
    request.session[REFUSAL_SESSION_KEY] = reason
    return HttpResponseRedirect(reverse("sso:refused"))


def vouched_for(request, user) -> bool:
    """Whether this browser signed in at the provider as ``user`` in the last
    ``VOUCHED_SECONDS``, short of the second factor (portal.two_factor's enrolment link takes
    it instead of a password for an account that has none)."""
    vouched = request.session.get(VOUCHED_SESSION_KEY) or {}
    return (
        not user.has_usable_password()
        and vouched.get("user") == user.pk
        and time.time() - vouched.get("at", 0) < VOUCHED_SECONDS
    )
