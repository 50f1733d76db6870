"""Enrolling an authenticator app through a one-time link, and the admin's sign-in form.

The link (``portal.core.enrolment``) first asks for the user's password (or, for an account that
signs in through the identity provider and has none, a sign-in at the provider in this browser a
moment ago: ``portal.sso.signing_in.vouched_for``); then it shows the key (a QR code and the key in
letters) and asks for one code from the app, which enrols the device, signs the user in with both
factors and uses the link up.
"""

import base64

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib.auth import authenticate, login
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.admin import OTPAdminAuthenticationForm

from portal.core import enrolment
from portal.core.audit import AuditContext
from portal.core.errors import NotVisible
from portal.sso import signing_in

VERIFIED_LINK = "enrolment_link"  # session key: the link whose password this browser gave


class PasswordForm(forms.Form):
    password = forms.CharField(label=_("Your password"), strip=False, widget=forms.PasswordInput)


class ConfirmCodeForm(forms.Form):
    token = forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=r"^\d{6}$",
        error_messages={"invalid": _("Enter the 6-digit code shown in the app.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class AdminSignInForm(OTPAdminAuthenticationForm):
    """django-otp's admin form, except that its code step never writes the password back into
    the page (the user types it again with the code), and that a user with one authenticator signs
    in in one step: django-otp asks which device to check even when there is only one."""

    def _update_form(self, user):
        super()._update_form(user)
        self.fields["password"].widget.render_value = False

    def _chosen_device(self, user):
        chosen = super()._chosen_device(user)
        if chosen is None and not self.cleaned_data.get("otp_device"):
            devices = list(devices_for_user(user))
            if len(devices) == 1:
                return devices[0]
        return chosen


def _qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


@never_cache
def enrol(request, secret: str):
    try:
        link = enrolment.usable_link(secret)
    except NotVisible:
        raise Http404 from None
    if request.session.get(VERIFIED_LINK) != link.pk and not signing_in.vouched_for(
        request, link.user
    ):
        return _ask_password(request, link)
    form = ConfirmCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = enrolment.enrol(
                link=link, code=form.cleaned_data["token"], audit=AuditContext.of(request)
            )
        except enrolment.CodeDidNotMatch as exc:
            form.add_error("token", exc.message)
        else:
            request.session.pop(VERIFIED_LINK, None)
            login(request, link.user, backend="django.contrib.auth.backends.ModelBackend")
            otp_login(request, device)
            return redirect("admin:index" if link.user.is_staff else "pages:home")
    return _show_key(request, link, form)


def _ask_password(request, link):
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request, username=link.user.get_username(), password=form.cleaned_data["password"]
        )
        if user is not None and user.pk == link.user_id:
            request.session[VERIFIED_LINK] = link.pk
            return _show_key(request, link, ConfirmCodeForm())
        form.add_error("password", _("That is not the password of this account."))
    return render(
        request, "registration/two_factor_setup.html", {"password_form": form, "link": link}
    )


def _show_key(request, link, form):
    device = enrolment.pending_device(link=link)
    context = {
        "form": form,
        "link": link,
        # The QR code is generated here from our own data; no user input reaches the markup.
        "qr_svg": mark_safe(_qr_svg(device.config_url)),  # noqa: S308
        "manual_key": base64.b32encode(device.bin_key).decode(),
    }
    return render(request, "registration/two_factor_setup.html", context)
