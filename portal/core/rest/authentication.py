"""Bearer tokens that can be revoked: each carries the user's stamp (``portal.core.revocation``),
and a token whose stamp is no longer the user's is refused, so a revocation (signing out, a
password change, deactivation, a lost membership) ends access tokens at once, not when they expire.
"""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from portal.core import revocation


def _stamped(token, user):
    token[revocation.STAMP_CLAIM] = revocation.token_stamp(user)
    return token


class StampedRefreshToken(RefreshToken):
    """A refresh token that carries the user's stamp (and passes it on to its access tokens)."""

    @classmethod
    def for_user(cls, user):
        return _stamped(super().for_user(user), user)


class StampedAccessToken(AccessToken):
    """An access token on its own (scripts and tests), stamped like those a refresh token makes."""

    @classmethod
    def for_user(cls, user):
        return _stamped(super().for_user(user), user)


class TokenRevoked(exceptions.AuthenticationFailed):
    error_code = "token_revoked"
    default_detail = _("This token has been revoked. Sign in again.")


def user_of_token(token):
    """The token's user with their token generation (one query), or ``TokenRevoked``."""
    user_id = token.get(api_settings.USER_ID_CLAIM)
    user = (
        get_user_model()
        .objects.select_related("token_generation")
        .filter(**{api_settings.USER_ID_FIELD: user_id})
        .first()
    )
    if user is None or not user.is_active:
        raise TokenRevoked
    if not revocation.stamp_matches(user, token.get(revocation.STAMP_CLAIM)):
        raise TokenRevoked
    return user


class RevocableJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer authentication, refusing revoked tokens."""

    def get_user(self, validated_token):
        return user_of_token(validated_token)


class RevocableJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of simplejwt's bearer tokens, for our subclass too."""

    target_class = "portal.core.rest.authentication.RevocableJWTAuthentication"
