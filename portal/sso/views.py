"""The pages of single sign-on around the provider's round trip: the local one-time code when
the provider did not vouch for a second factor, the refusal page, signing out (here and at the
provider) and the page the provider sends the browser back to."""

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login

from portal.core import second_factor
from portal.core.audit import AuditContext
from portal.sso import oidc, services, signing_in
from portal.sso.models import Protocol


class CodeForm(forms.Form):
    otp_token = forms.RegexField(
        label=_("One-time code"),
        regex=r"^\d{6}$",
        error_messages={"invalid": _("Enter the 6-digit code shown in the app.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


@never_cache
def second_factor_step(request):
    """The code from the user's authenticator app, for a sign-in at the provider without its
    MFA claim. Only the browser that made that sign-in gets here (the pending user is in its
    session); each device throttles wrong codes itself."""
    pending = request.session.get(signing_in.PENDING_SESSION_KEY) or {}
    user = get_user_model().objects.filter(pk=pending.get("user"), is_active=True).first()
    if user is None:
        return redirect("pages:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = second_factor.verify(user, form.cleaned_data["otp_token"])
        if device is not None:
            del request.session[signing_in.PENDING_SESSION_KEY]
            login(request, user, backend=signing_in.BACKEND)
            otp_login(request, device)
            services.record_signed_in(user=user, protocol=pending["protocol"],
                                      second_factor="code", audit=AuditContext.of(request))  # fmt: skip
            return HttpResponseRedirect(pending["next"])
        form.add_error(
            "otp_token",
            _("That one-time code did not match. Check the time on your phone and try again."),
        )
    return render(request, "sso/second_factor.html", {"form": form})


@never_cache
def refused(request):
    reason = request.session.pop(signing_in.REFUSAL_SESSION_KEY, None)
    message = services.REFUSALS.get(reason, services.REFUSALS["cancelled"])
    return render(request, "sso/refused.html", {"message": message})


def signed_out(request):
    """Where the provider sends the browser back after its own sign-out."""
    return render(request, "registration/logged_out.html")


class SignOutView(auth_views.LogoutView):
    """Django's sign-out, then, for a session that came through the provider, the provider's
    sign-out too (RP-initiated logout, with the ID token as the hint)."""

    def post(self, request, *args, **kwargs):
        at_provider = oidc.provider_sign_out_url(request)
        user = request.user if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if at_provider is None:
            return response
        services.record_signed_out(user=user, protocol=Protocol.OIDC, at_provider=True,
                                   audit=AuditContext.of(request))  # fmt: skip
        return HttpResponseRedirect(at_provider)
