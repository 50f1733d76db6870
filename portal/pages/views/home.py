"""``/``: today's work at a glance for the sites in view."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from portal.core.audit import AuditContext, record_event
from portal.pages.selectors import home_summary
from portal.pages.views.access import clinician_required


@require_safe
@clinician_required
def home(request):
    workspace = request.workspace
    summary = home_summary(workspace)
    if summary.failed_latest:
        # The failed list names patients: record whose results were shown.
        record_event(
            action="home.viewed", actor=request.user, context=AuditContext.of(request),
            detail={"diagnostics": [d.pk for d in summary.failed_latest]},
        )  # fmt: skip
    return render(request, "portal/home.html", {"summary": summary, "workspace": workspace})
