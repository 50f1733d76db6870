"""One diagnostic: its page (result, audio, symptoms, similar cases, review form), the timeline card
the patient page fetches when a result arrives, and the review and retry actions."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from diagnostics import live, reviews
from diagnostics.services import DiagnosticNotRetryable, retry_diagnostic
from portal.core.audit import AuditContext, record_event
from portal.core.errors import NotVisible
from portal.pages.forms import ReviewForm
from portal.pages.selectors import visible_diagnostic
from portal.pages.views.access import clinician_required, safe_next
from portal.templatetags.portal_ui import symptom_rows
from recommender.models import InteractionKind
from recommender.panel import panel_context
from recommender.services import FeedbackRefused, record_feedback, record_view


def _render_detail(request, diagnostic, form, status=200):
    return render(request, "diagnostics/detail.html", {
        "diagnostic": diagnostic, "recording": diagnostic.recording,
        "patient": diagnostic.patient, "form": form,
        "symptoms": symptom_rows(diagnostic.symptoms or {}),
        **panel_context(diagnostic=diagnostic, user=request.user),
    }, status=status)  # fmt: skip


def _source_diagnostic(request, diagnostic):
    """The case whose similar-cases panel linked here (``?from=<id>``), if the user may see it."""
    try:
        source_pk = int(request.GET.get("from", ""))
    except ValueError:
        return None
    if source_pk == diagnostic.pk:
        return None
    try:
        return visible_diagnostic(request.user, source_pk)
    except NotVisible:
        return None


@require_safe
@clinician_required
def diagnostic_detail(request, pk: int):
    diagnostic = visible_diagnostic(request.user, pk)
    record_event(action="diagnostic.viewed", obj=diagnostic, patient=diagnostic.patient,
                 actor=request.user, context=AuditContext.of(request))  # fmt: skip
    # Views right after another case feed the recommender's co-interactions.
    record_view(user=request.user, diagnostic=diagnostic,
                source=_source_diagnostic(request, diagnostic))  # fmt: skip
    return _render_detail(request, diagnostic, ReviewForm())


@require_POST
@clinician_required
def similar_feedback(request, pk: int, other_id: int):
    """ "Similar" / "not similar" on a case of the panel; back to the page, the panel reordered."""
    diagnostic = visible_diagnostic(request.user, pk)
    similar = visible_diagnostic(request.user, other_id)
    try:
        record_feedback(actor=request.user, diagnostic=diagnostic, other=similar,
                        kind=request.POST.get("kind", ""), audit=AuditContext.of(request))  # fmt: skip
    except FeedbackRefused as refused:
        messages.error(request, refused.message)
    else:
        if request.POST["kind"] == InteractionKind.MARKED_SIMILAR:
            messages.success(request, _("Marked as similar. Thank you: it ranks similar cases."))
        else:
            messages.success(request, _("Marked as not similar. It will rank lower from now on."))
    target = reverse("pages:diagnostic-detail", args=[pk])
    return redirect(f"{target}#similar-title")


@require_safe
@clinician_required
def diagnostic_card(request, pk: int):
    """The timeline card alone, for the patient page to swap in when a result arrives.

    With ``?unless=<status>`` it answers 204, reveals nothing and audits nothing while the status
    is still that one: the page's polling fallback asks this every few seconds.
    """
    diagnostic = visible_diagnostic(request.user, pk, queue_position=False)
    if request.GET.get("unless") == diagnostic.status:
        return HttpResponse(status=204)  # one read of the diagnostic: its position is not shown
    live.annotate_queue_positions([diagnostic])
    record_event(action="diagnostic.viewed", obj=diagnostic, patient=diagnostic.patient,
                 actor=request.user, context=AuditContext.of(request), detail={"page": "card"})  # fmt: skip
    return render(request, "diagnostics/_timeline_item.html", {
        "recording": diagnostic.recording, "diagnostics": [diagnostic],
    })  # fmt: skip


@require_POST
@clinician_required
def diagnostic_review(request, pk: int):
    diagnostic = visible_diagnostic(request.user, pk)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            reviews.review_diagnostic(
                diagnostic=diagnostic, actor=request.user, audit=AuditContext.of(request),
                decision=form.cleaned_data["decision"], label=form.cleaned_data["label"] or None,
                note=form.cleaned_data["note"],
            )  # fmt: skip
        except reviews.ReviewRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, _("Review saved."))
            return redirect(safe_next(request, reverse("pages:diagnostic-detail", args=[pk])))
    return _render_detail(request, diagnostic, form, status=400)


@require_POST
@clinician_required
def diagnostic_retry(request, pk: int):
    diagnostic = visible_diagnostic(request.user, pk)
    try:
        retry_diagnostic(diagnostic=diagnostic, actor=request.user, audit=AuditContext.of(request))
    except DiagnosticNotRetryable:
        messages.error(request, _("Only a failed analysis can be retried."))
    else:
        messages.success(request, _("The analysis has been queued again."))
    fallback = reverse("pages:patient-detail", args=[diagnostic.patient_id])
    return redirect(safe_next(request, fallback))
