"""Who may open the clinician pages, which of their sites they are looking at, signing in (with the
one-time code where the account needs it), changing the password, and keeping an idle session alive
on request.

``clinician_required`` is the gate of every clinical page: anonymous users are sent to sign in,
signed-in users without a clinical role at any site (researchers, staff without memberships) get
the 403 page. It loads the user's clinical sites once and hands the page a ``Workspace``, which the
navigation (site switcher, review count) reuses, so the gate costs one query.
"""

from functools import wraps

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from portal.core import permissions, revocation
from portal.core.audit import AuditContext
from portal.pages.forms import SignInForm
from portal.pages.selectors import Workspace
from portal.sso import oidc as sso_oidc
from portal.sso import saml as sso_saml

SESSION_SITE_KEY = "portal_site_id"


def clinician_required(view=None, *, otherwise=None):
    """The gate; ``otherwise`` is the view for signed-in users without a clinical site (the start
    page sends researchers to their own) instead of the 403 page."""
    if view is None:
        return lambda view: clinician_required(view, otherwise=otherwise)

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        sites = permissions.clinical_sites(request.user)
        if not sites:
            if otherwise is not None:
                return otherwise(request, *args, **kwargs)
            raise PermissionDenied
        chosen = request.session.get(SESSION_SITE_KEY)
        site = next((s for s in sites if s.pk == chosen), None)
        request.workspace = Workspace(user=request.user, sites=sites, site=site)
        return view(request, *args, **kwargs)

    return wrapper


def safe_next(request, fallback: str) -> str:
    """The ``next`` URL of a form if it points into this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@require_POST
@clinician_required
def switch_site(request):
    """Remember the chosen site in the session; an empty or foreign choice means all my sites."""
    workspace = request.workspace
    try:
        wanted = int(request.POST.get("site") or 0)
    except ValueError:
        wanted = 0
    if any(site.pk == wanted for site in workspace.sites):
        request.session[SESSION_SITE_KEY] = wanted
    else:
        request.session.pop(SESSION_SITE_KEY, None)
    return redirect(safe_next(request, "/"))


@require_POST
@login_required
def keep_session_alive(request):
    """Answer 204, having renewed the idle timeout (a changed session is saved with a new expiry;
    ``portal.core.sessions``)."""
    request.session.modified = True
    return HttpResponse(status=204)


class SignInView(auth_views.LoginView):
    """The password, and the one-time code where the account needs one; the device that accepted
    it is recorded in the session, which makes the session verified for the admin and the API."""

    form_class = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        # With single sign-on configured, the hospital account is the way in; the password
        # form stays for break-glass accounts.
        if sso_oidc.enabled():
            start = reverse("sso:oidc-start")
        elif sso_saml.enabled():
            start = reverse("sso:saml-start")
        else:
            start = None
        return super().get_context_data(**kwargs, single_sign_on=start)

    def form_valid(self, form):
        response = super().form_valid(form)
        if form.device is not None:
            otp_login(self.request, form.device)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's, and then every API token and live socket of the user ends (this session stays
    signed in; Django ends the others)."""

    success_url = reverse_lazy("pages:password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        revocation.revoke(
            user=form.user, reason="password_changed", audit=AuditContext.of(self.request)
        )
        return response
