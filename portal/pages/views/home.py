"""``/``: today's work at a glance for the sites in view; for a researcher, what they may export
and how."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_safe

from portal.core import permissions
from portal.core.audit import AuditContext, record_event
from portal.pages.selectors import home_summary
from portal.pages.views.access import clinician_required


def researcher_home(request):
    """A researcher's start page: the sites they may export from, which data set each allows,
    links to the export, the API docs and how to get a token. Anyone else: the 403 page."""
    sites = list(permissions.research_sites(request.user))
    if not sites:
        raise PermissionDenied
    limited = set(permissions.limited_data_set_sites(request.user).values_list("pk", flat=True))
    return render(request, "portal/researcher_home.html", {
        "sites": [(site, site.pk in limited) for site in sites],
        "any_limited": bool(limited),
    })  # fmt: skip


@require_safe
@clinician_required(otherwise=researcher_home)
def home(request):
    workspace = request.workspace
    summary = home_summary(workspace)
    shown = [d.pk for d in summary.failed_latest + summary.results_today]
    if shown or summary.recent_patients:
        # The lists name patients: record whose results and which patients were shown.
        record_event(
            action="home.viewed", actor=request.user, context=AuditContext.of(request),
            detail={"diagnostics": shown, "patients": [p.pk for p in summary.recent_patients]},
        )  # fmt: skip
    return render(request, "portal/home.html", {"summary": summary, "workspace": workspace})
