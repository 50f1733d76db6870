"""OpenID Connect with mozilla-django-oidc: authorization code with PKCE and a nonce, the ID
token's signature (JWKS), issuer, audience and expiry checked, then the portal's own rules
(``portal.sso.services``) decide who the person is here and what they may do.

The library's views start the flow and take the provider's answer; ``CallbackView`` adds what a
clinical portal needs after it: the provider's MFA claim counted as the second factor, the local
code asked for otherwise, and every refusal audited.
"""

import logging
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from portal.core.audit import AuditContext
from portal.sso import services, signing_in
from portal.sso.mapping import provider_vouches_for_second_factor
from portal.sso.models import Protocol

logger = logging.getLogger(__name__)


def enabled() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID)


class ProviderBackend(OIDCAuthenticationBackend):
    """Answers only the provider's callback, and only when OpenID Connect is configured; listed
    in ``AUTHENTICATION_BACKENDS`` either way so that the sessions it made still load."""

    def __init__(self, *args, **kwargs):
        self.UserModel = get_user_model()
        if enabled():
            super().__init__(*args, **kwargs)

    def authenticate(self, request, **kwargs):
        if not enabled() or request is None or "code" not in request.GET:
            return None
        try:
            return super().authenticate(request, **kwargs)
        except services.SignInRefused as refused:  # audited by the service
            request.sso_refusal = refused.reason
        except (requests.RequestException, SuspiciousOperation, ValueError) as exc:
            # The provider is down, or its answer did not verify: logged without its content.
            logger.warning("OpenID Connect sign-in failed", extra={"error": type(exc).__name__})
        return None

    def verify_token(self, token, **kwargs):
        """The library checks the signature and the nonce; the issuer, the audience and the
        expiry are checked here (OpenID Connect Core 3.1.3.7)."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss") != settings.OIDC_OP_ISSUER:
            raise SuspiciousOperation("ID token from another issuer.")
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token for another client.")
        if "exp" not in payload or not payload.get("sub"):
            raise SuspiciousOperation("ID token without expiry or subject.")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = {}
        if settings.OIDC_OP_USER_ENDPOINT:
            userinfo = self.get_userinfo(access_token, id_token, payload)
            if userinfo.get("sub") != payload["sub"]:
                raise SuspiciousOperation("Userinfo about another subject.")
        claims = {**userinfo, **payload}  # the signed ID token wins
        groups = payload.get(settings.OIDC_GROUPS_CLAIM, userinfo.get(settings.OIDC_GROUPS_CLAIM))
        identity = services.ProviderIdentity(
            protocol=Protocol.OIDC,
            issuer=payload["iss"],
            subject=str(payload["sub"]),
            groups=groups if isinstance(groups, list) else [groups] if groups else [],
            second_factor=provider_vouches_for_second_factor(payload),
            username=str(claims.get("preferred_username") or ""),
            email=str(claims.get("email") or ""),
            given_name=str(claims.get("given_name") or ""),
            family_name=str(claims.get("family_name") or ""),
        )
        user = services.sign_in_from_provider(
            identity=identity, audit=AuditContext.of(self.request)
        )
        self.request.sso_second_factor = identity.second_factor
        return user


class StartView(OIDCAuthenticationRequestView):
    """``/sso/oidc/start/``: off to the provider, with state, nonce and a PKCE challenge."""

    def __init__(self, *args, **kwargs):
        if not enabled():
            raise Http404
        super().__init__(*args, **kwargs)


class CallbackView(OIDCAuthenticationCallbackView):
    """``/sso/oidc/callback/``: the provider's answer. A person the portal lets in is signed
    in with the provider's second factor when its claims vouch for one; otherwise, where the
    account needs a second factor, the local code is asked for before the sign-in is complete."""

    def get(self, request):
        if not enabled():
            raise Http404
        return super().get(request)

    def login_success(self):
        return signing_in.complete(
            self.request, self.user, protocol=Protocol.OIDC, next_url=self.success_url,
            provider_second_factor=getattr(self.request, "sso_second_factor", False),
        )  # fmt: skip

    def login_failure(self):
        reason = getattr(self.request, "sso_refusal", None)
        if reason is not None:  # refused by the portal's rules, and audited there
            return signing_in.refused(self.request, reason, protocol=Protocol.OIDC, audited=True)
        # The provider said no, or its answer did not verify.
        reason = "cancelled" if self.request.GET.get("error") else "provider_error"
        return signing_in.refused(self.request, reason, protocol=Protocol.OIDC)


def provider_sign_out_url(request) -> str | None:
    """Where to send the browser so that the provider ends its session too (RP-initiated
    logout), for a session that signed in through it; None otherwise."""
    id_token = request.session.get("oidc_id_token")
    if not (enabled() and settings.OIDC_OP_LOGOUT_ENDPOINT and id_token):
        return None
    query = urlencode({
        "id_token_hint": id_token,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("sso:signed-out")),
        "client_id": settings.OIDC_RP_CLIENT_ID,
    })  # fmt: skip
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{query}"
