"""``/review/``: results of the user's sites waiting for a clinician's review, oldest first."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from diagnostics.models import Label
from portal.audit import record_event
from portal.forms import ReviewForm
from portal.selectors import review_queue
from portal.views.access import clinician_required


def _cursor(request, name: str) -> int | None:
    try:
        return int(request.GET.get(name, "")) or None
    except ValueError:
        return None


@require_safe
@clinician_required
def review_index(request):
    page = review_queue(
        request.workspace, after=_cursor(request, "after"), before=_cursor(request, "before")
    )
    record_event(action="review_queue.viewed", request=request,
                 detail={"diagnostics": [d.pk for d in page.items]})  # fmt: skip
    return render(request, "portal/review_queue.html", {
        "page": page, "labels": Label.choices, "form": ReviewForm(),
        "workspace": request.workspace,
    })  # fmt: skip
