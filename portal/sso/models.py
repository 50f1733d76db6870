"""The link between a local user and their identity at the provider, and the provider's second
factor as a django-otp device."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device


class Protocol(models.TextChoices):
    OIDC = "oidc", _("OpenID Connect")
    SAML = "saml", _("SAML 2.0")


class ExternalIdentity(models.Model):
    """A user as the provider knows them: (issuer, subject) is stable where names and e-mail
    addresses are not, so it is the only thing a sign-in is matched on; a local account is never
    taken over because the provider calls someone by its username or address."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="external_identities",
        verbose_name=_("user"),
    )
    protocol = models.CharField(max_length=8, choices=Protocol.choices, verbose_name=_("protocol"))
    issuer = models.CharField(max_length=255, verbose_name=_("issuer"))
    subject = models.CharField(max_length=255, verbose_name=_("subject"))
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )
    last_signed_in_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("last signed in at")
    )

    class Meta:
        verbose_name_plural = _("external identities")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="unique_external_identity")
        ]

    def __str__(self) -> str:
        # Not the subject: it identifies a person at the provider.
        return f"{self.get_protocol_display()} identity #{self.pk}"


class ProviderSecondFactor(Device):
    """The identity provider's word, at one sign-in, that the user gave it a second factor.

    A django-otp device so that the session counts as verified on every door exactly as one
    with a code does (the admin, the API, live sockets). It accepts no codes:
    ``portal.core.second_factor`` does not count it as an authenticator to type one from.
    """

    accepts_codes = False

    class Meta:
        verbose_name = _("identity provider's second factor")

    def verify_token(self, token) -> bool:
        return False
