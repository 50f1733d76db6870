"""The API's tokens: issued with the one-time code where the account needs one, refused once
revoked, and given back on sign-out.

- ``POST /api/v1/auth/token/`` takes ``username``, ``password`` and, for an account that needs a
  second factor (``portal.core.second_factor``), ``otp_token``.
- ``POST /api/v1/auth/token/refresh/`` rotates: the new pair comes back and the old refresh token
  is blacklisted.
- ``POST /api/v1/auth/token/revoke/`` signs the API client out: every token of the user ends.

Each token carries the user's stamp (``portal.core.revocation``); ``RevocableJWTAuthentication``
(``portal.core.rest.authentication``) refuses a token whose stamp is no longer the user's, so a
revocation ends access tokens at once, not when they expire.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenObtainSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from portal.core import revocation, second_factor
from portal.core.audit import AuditContext
from portal.core.rest.authentication import StampedRefreshToken, user_of_token


class OneTimeCodeRequired(exceptions.AuthenticationFailed):
    error_code = "otp_required"
    default_detail = _("This account needs the one-time code from its authenticator app.")


class OneTimeCodeInvalid(exceptions.AuthenticationFailed):
    error_code = "otp_invalid"
    default_detail = _("That one-time code did not match. Check the time on your device.")


class SignInSerializer(TokenObtainPairSerializer):
    otp_token = serializers.CharField(
        required=False, allow_blank=True, write_only=True,
        help_text="The one-time code, for accounts that need a second factor.",
    )  # fmt: skip

    token_class = StampedRefreshToken

    def validate(self, attrs):
        TokenObtainSerializer.validate(self, attrs)  # the password (django-axes counts failures)
        if second_factor.required_for(self.user):
            code = (attrs.get("otp_token") or "").strip()
            if not code:
                raise OneTimeCodeRequired
            if second_factor.verify(self.user, code) is None:
                raise OneTimeCodeInvalid
        refresh = self.get_token(self.user)
        return {"refresh": str(refresh), "access": str(refresh.access_token)}


class RotatingRefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs):
        user_of_token(RefreshToken(attrs["refresh"]))  # blacklisted, or revoked since it was issued
        return super().validate(attrs)


class SignInView(TokenObtainPairView):
    serializer_class = SignInSerializer


class RefreshView(TokenRefreshView):
    serializer_class = RotatingRefreshSerializer


class RevokeView(APIView):
    """Sign the API client out: every access and refresh token of the user ends."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        revocation.revoke(
            user=request.user,
            reason="signed_out",
            audit=AuditContext.of(request),
            close_users_sockets=False,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
