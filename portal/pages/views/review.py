"""``/review/``: results of the user's sites waiting for a clinician's review, those whose review
teaches the model most first (``recommender.priority``), or oldest first."""

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from diagnostics.models import Label
from portal.core.audit import AuditContext, record_event
from portal.pages.forms import ReviewForm
from portal.pages.selectors import REVIEW_ORDERS, review_queue
from portal.pages.views.access import clinician_required
from recommender.priority import reasons


def _cursor(request, name: str) -> int | None:
    try:
        return int(request.GET.get(name, "")) or None
    except ValueError:
        return None


@require_safe
@clinician_required
def review_index(request):
    order = request.GET.get("order")
    order = order if order in REVIEW_ORDERS else REVIEW_ORDERS[0]
    page = review_queue(request.workspace, order=order,
                        after=_cursor(request, "after"), before=_cursor(request, "before"))  # fmt: skip
    now = timezone.now()
    for diagnostic in page.items:
        stored = getattr(diagnostic, "review_priority", None)
        diagnostic.priority_reasons = reasons(stored, diagnostic.queued_at, now,
                                              scores=diagnostic.scores)  # fmt: skip
    record_event(action="review_queue.viewed", actor=request.user, context=AuditContext.of(request),
                 detail={"diagnostics": [d.pk for d in page.items]})  # fmt: skip
    return render(request, "portal/review_queue.html", {
        "page": page, "labels": Label.choices, "form": ReviewForm(),
        "workspace": request.workspace, "order": order,
    })  # fmt: skip
