"""Enrolling an authenticator app (TOTP) for staff, who need it to sign in to the admin.

A staff member signs in with their password on the portal's sign-in page, opens this page, scans
the QR code (or types the key) into an authenticator app and confirms one code. From then on the
admin asks for a code at every sign-in.
"""

import base64

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.core.audit import AuditContext, record_event


class ConfirmCodeForm(forms.Form):
    token = forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=r"^\d{6}$",
        error_messages={"invalid": _("Enter the 6-digit code shown in the app.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


def _qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


@login_required
def setup(request):
    user = request.user
    if not user.is_staff:
        raise PermissionDenied
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return render(request, "registration/two_factor_setup.html", {"enrolled": True})
    device, _created = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "Authenticator app"}
    )
    form = ConfirmCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            record_event(
                action="auth.two_factor_enrolled", actor=user, context=AuditContext.of(request)
            )
            return redirect("admin:index")
        form.add_error(
            "token", _("That code did not match. Check the time on your phone and try again.")
        )
    context = {
        "form": form,
        # The QR code is generated here from our own data; no user input reaches the markup.
        "qr_svg": mark_safe(_qr_svg(device.config_url)),  # noqa: S308
        "manual_key": base64.b32encode(device.bin_key).decode(),
    }
    return render(request, "registration/two_factor_setup.html", context)
